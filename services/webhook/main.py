"""Runs the webhook service (API + consumer) under uvicorn."""

from __future__ import annotations

import uvicorn

from observability.logs import configure_logging
from services.http_limits import guarded, uvicorn_options
from services.webhook.app import create_app
from services.webhook.settings import Settings


def run(settings: Settings) -> None:
    configure_logging("webhook", settings.log_level)
    uvicorn.run(
        guarded(create_app(settings), settings.http_limits),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=30,
        **uvicorn_options(settings.http_limits),
    )
