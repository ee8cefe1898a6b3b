"""Factory for uvicorn's multi-process mode: each worker reads the settings and builds its app.

With several workers only the first relay to take the advisory lock publishes; the others wait.
"""

from __future__ import annotations

from fastapi import FastAPI

from observability.logs import configure_logging
from services.notification.app import create_app
from services.notification.settings import Settings


def app() -> FastAPI:
    settings = Settings()
    configure_logging("notification", settings.log_level)  # a worker process's own logging
    return create_app(settings)
