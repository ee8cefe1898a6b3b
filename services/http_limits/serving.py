"""What an entrypoint hands uvicorn so that `HttpLimits` hold."""

from __future__ import annotations

import functools
from typing import Any

from services.http_limits.body import AnyAsgiApp, BodyLimit
from services.http_limits.limits import HttpLimits
from services.http_limits.protocol import LimitedHttpToolsProtocol


def uvicorn_options(limits: HttpLimits) -> dict[str, Any]:
    """Keyword arguments for `uvicorn.run` / `uvicorn.Config`: the limited httptools protocol
    (a picklable factory, so multi-worker mode carries it to each worker) and the connection
    cap. Replaces any `http=` option; meant for an app wrapped by `guarded`."""
    return {
        "http": functools.partial(LimitedHttpToolsProtocol, limits=limits),
        "limit_concurrency": limits.max_connections,
        # `BodyLimit.__call__` returns the coroutine instead of being one (see its comment):
        # uvicorn would take it for an ASGI 2 app.
        "interface": "asgi3",
    }


def guarded(app: AnyAsgiApp, limits: HttpLimits) -> BodyLimit:
    """`app` behind the body limit: the outermost layer, before authentication."""
    return BodyLimit(app, limits.max_body_bytes)
