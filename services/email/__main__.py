"""`python -m services.email`: the email consumer, with /healthz and /metrics on PORT (8002)."""

from __future__ import annotations

import uvicorn

from identity.settings import refuse_to_start_with_weak_secrets
from observability.logs import configure_logging
from services.email.app import create_app
from services.email.settings import Settings
from services.http_limits import guarded, uvicorn_options


def main() -> None:
    settings = Settings()
    refuse_to_start_with_weak_secrets(
        settings.tocsin_env, {"UNSUBSCRIBE_SECRET": settings.unsubscribe_secret}
    )
    configure_logging("email", settings.log_level)
    uvicorn.run(
        guarded(create_app(settings), settings.http_limits),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=15,
        **uvicorn_options(settings.http_limits),
    )


if __name__ == "__main__":
    main()
