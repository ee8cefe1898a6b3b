"""`python -m services.notification [serve|migrate|relay]` (serve is the default)."""

from __future__ import annotations

import argparse
import asyncio

from identity.settings import refuse_to_start_with_weak_secrets
from observability.logs import configure_logging
from services.notification.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m services.notification")
    parser.add_argument(
        "command", nargs="?", default="serve", choices=["serve", "migrate", "relay"]
    )
    args = parser.parse_args()
    settings = Settings()
    refuse_to_start_with_weak_secrets(
        settings.tocsin_env,
        {"JWT_SECRET": settings.jwt_secret, "UNSUBSCRIBE_SECRET": settings.unsubscribe_secret},
    )
    configure_logging("notification", settings.log_level)
    if args.command == "migrate":
        from services.notification.migrations import upgrade

        upgrade(settings.database_url)
    elif args.command == "relay":
        try:
            import uvloop

            uvloop.install()
        except ImportError:
            pass
        asyncio.run(relay(settings))
    else:
        serve(settings)


async def relay(settings: Settings) -> None:
    """The relays alone (no API), for processes that only publish."""
    from database.partitions import check_partitions
    from services.notification.workers import relays_for

    await check_partitions(settings.database_url, settings.relay_partitions)
    await relays_for(settings).run()


def serve(settings: Settings) -> None:
    import uvicorn

    from services.http_limits import guarded, uvicorn_options

    limits = uvicorn_options(settings.http_limits)
    if settings.workers > 1:
        # Worker processes build their app from the same environment through the factory.
        uvicorn.run(
            "services.notification.asgi:app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            loop="uvloop",
            log_level=settings.log_level.lower(),
            log_config=None,
            access_log=False,
            **limits,
        )
        return
    from services.notification.app import create_app

    uvicorn.run(
        guarded(create_app(settings), settings.http_limits),
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        log_level=settings.log_level.lower(),
        log_config=None,
        access_log=False,
        **limits,
    )


if __name__ == "__main__":
    main()
