"""Runs the webhook service (API + consumer) under uvicorn."""

from __future__ import annotations

import logging

import uvicorn

from services.webhook.app import create_app
from services.webhook.settings import Settings


def run(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=30,
    )
