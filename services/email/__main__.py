"""`python -m services.email`: the email consumer, with /healthz and /metrics on PORT (8002)."""

from __future__ import annotations

import uvicorn

from identity.settings import refuse_to_start_with_weak_secrets
from observability.logs import configure_logging
from services.email.app import create_app
from services.email.settings import Settings


def main() -> None:
    settings = Settings()
    refuse_to_start_with_weak_secrets(
        settings.tocsin_env, {"UNSUBSCRIBE_SECRET": settings.unsubscribe_secret}
    )
    configure_logging("email", settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=15,
    )


if __name__ == "__main__":
    main()
