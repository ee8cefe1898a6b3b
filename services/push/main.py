"""Runs the push service (API + consumer + timers) under uvicorn."""

from __future__ import annotations

import uvicorn

from observability.logs import configure_logging
from services.push.app import create_app
from services.push.settings import Settings


def run(settings: Settings) -> None:
    configure_logging("push", settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=30,
    )
