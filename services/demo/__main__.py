"""`python -m services.demo`: serves the demo page on PORT (default 8080)."""

from __future__ import annotations

import uvicorn

from identity.settings import refuse_to_start_with_weak_secrets
from observability.logs import configure_logging
from services.demo.app import create_app
from services.demo.settings import Settings


def main() -> None:
    settings = Settings()
    refuse_to_start_with_weak_secrets(settings.tocsin_env, {"JWT_SECRET": settings.jwt_secret})
    configure_logging("demo", settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        log_config=None,
        access_log=False,
    )


if __name__ == "__main__":
    main()
