"""The notification service's ASGI app: `create_app(settings)`, the HTTP wiring.

Resources (database engine, service layer, background workers from `workers.py`) live in the
lifespan: started before the first request, stopped (and drained) at shutdown.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from database.engine import create_engine
from identity.rate_limit import CallerLimits
from observability.metrics import metrics_endpoint
from observability.tracing import TraceparentMiddleware
from services.notification import http_errors
from services.notification.routes import (
    announcements,
    health,
    incidents,
    internal,
    services,
    unsubscribe,
    users,
)
from services.notification.service import NotificationService
from services.notification.settings import Settings
from services.notification.wakeup import RelayWakeup
from services.notification.workers import (
    Worker,
    WorkerContext,
    default_workers,
    process_relays,
    running_workers,
)

API_PREFIX = "/api/v1"


def create_app(settings: Settings, workers: Sequence[Worker] | None = None) -> FastAPI:
    chosen = list(default_workers(settings) if workers is None else workers)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(
            settings.database_url,
            pool_size=settings.db_pool_size,
            command_timeout_s=settings.db_command_timeout_s,
            application_name="tocsin-notification",
            pre_ping=False,
        )
        # The relay of this process (if any) is woken directly; NOTIFY wakes the others'.
        relay = await process_relays(settings, chosen)
        wakeup = RelayWakeup(settings.database_url)

        def on_events() -> None:
            wakeup.poke()
            if relay is not None:
                relay.wake()

        service = NotificationService(
            engine,
            settings.cursor_key,
            on_events=on_events,
            idempotency_ttl=timedelta(seconds=settings.idempotency_key_ttl_s),
            link_hosts=settings.entity_link_hosts,
        )
        app.state.service = service
        context = WorkerContext(settings=settings, service=service, relay=relay)
        try:
            async with running_workers(chosen, context, wakeup):
                yield
        finally:
            await service.close()
            await engine.dispose()

    app = FastAPI(
        title="Tocsin notification service",
        version="1.0",
        description="Records notifications per person and publishes every change as an event.",
        lifespan=lifespan,
        default_response_class=http_errors.JSONResponse,
        docs_url="/docs" if settings.docs_enabled else None,
        redoc_url="/redoc" if settings.docs_enabled else None,
        openapi_url="/openapi.json" if settings.docs_enabled else None,
    )
    app.state.settings = settings
    app.state.jwt = settings.jwt
    app.state.limits = CallerLimits(people=settings.user_rate, services=settings.service_rate)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origin_list,
        allow_methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
        max_age=600,
    )
    app.add_middleware(TraceparentMiddleware)
    app.add_route("/metrics", metrics_endpoint, include_in_schema=False)
    http_errors.install(app)
    errors_doc = http_errors.ERROR_RESPONSES
    app.include_router(health.router, responses=errors_doc)
    app.include_router(users.router, prefix=API_PREFIX, responses=errors_doc)
    app.include_router(services.router, prefix=API_PREFIX, responses=errors_doc)
    app.include_router(announcements.router, prefix=API_PREFIX, responses=errors_doc)
    app.include_router(internal.router, prefix=API_PREFIX, responses=errors_doc)
    app.include_router(incidents.router, prefix=API_PREFIX, responses=errors_doc)
    app.include_router(unsubscribe.router, prefix=API_PREFIX, responses=errors_doc)
    return app
