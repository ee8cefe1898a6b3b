"""Limits every Tocsin HTTP service applies before its app sees a request (and so before any
authentication): header size (431), header read time (408), body size on `Content-Length` and
while streaming (413), and concurrent connections (503). Each answer is JSON
`{"error": {"code", "message"}}` with a stable code, and the connection is closed.

An entrypoint reads the limits from its settings (`HttpLimitsSettings`) and passes
`uvicorn_options(limits)` to uvicorn and `guarded(app, limits)` as the app.
"""

from services.http_limits.body import BodyLimit
from services.http_limits.limits import HttpLimits, HttpLimitsSettings
from services.http_limits.protocol import LimitedHttpToolsProtocol
from services.http_limits.serving import guarded, uvicorn_options

__all__ = [
    "BodyLimit",
    "HttpLimits",
    "HttpLimitsSettings",
    "LimitedHttpToolsProtocol",
    "guarded",
    "uvicorn_options",
]
