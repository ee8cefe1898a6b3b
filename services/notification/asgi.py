"""Factory for uvicorn's multi-process mode: each worker reads the settings and builds its app.

With several workers only the first relay to take the advisory lock publishes; the others wait.
"""

from __future__ import annotations

from observability.logs import configure_logging
from services.http_limits import BodyLimit, guarded
from services.notification.app import create_app
from services.notification.settings import Settings


def app() -> BodyLimit:
    settings = Settings()
    configure_logging("notification", settings.log_level)  # a worker process's own logging
    return guarded(create_app(settings), settings.http_limits)
