"""HTTP routes: parse, call one service function, return. Errors map in `http_errors`."""
