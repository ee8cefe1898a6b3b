"""Runs the push service (API + consumer + timers) under uvicorn."""

from __future__ import annotations

import uvicorn

from identity.settings import refuse_to_start_with_weak_secrets
from observability.logs import configure_logging
from services.http_limits import guarded, uvicorn_options
from services.push.app import create_app
from services.push.settings import Settings


def run(settings: Settings) -> None:
    refuse_to_start_with_weak_secrets(settings.tocsin_env, {"JWT_SECRET": settings.jwt_secret})
    configure_logging("push", settings.log_level)
    uvicorn.run(
        guarded(create_app(settings), settings.http_limits),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=30,
        **uvicorn_options(settings.http_limits),
    )
