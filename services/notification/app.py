"""The notification service's ASGI app: `create_app(settings)`.

Resources (database engine, the relay and any other background worker) live in the lifespan:
started before the first request, stopped (and drained) at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from database.engine import create_engine
from database.partitions import check_partitions
from identity.rate_limit import CallerLimits
from observability.metrics import metrics_endpoint
from observability.tracing import TraceparentMiddleware
from services.notification import announcements, http_errors
from services.notification.deliveries import deliveries_worker
from services.notification.housekeeping import purge_idempotency_keys
from services.notification.incidents import incident_worker
from services.notification.outbox import Relay, RelayGroup
from services.notification.relay_share import RelayShare
from services.notification.routes import (
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

logger = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
SHUTDOWN_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class AppContext:
    """What a background worker gets: the settings and the service layer."""

    settings: Settings
    service: NotificationService
    relay: RelayGroup | None = None


Worker = Callable[[AppContext], Awaitable[None]]
"""A long-running coroutine started in the lifespan and cancelled at shutdown."""


def relay_for(settings: Settings, partition: int = 0, share: RelayShare | None = None) -> Relay:
    return Relay(
        database_url=settings.database_url,
        amqp_url=settings.amqp_url,
        topology=settings.topology,
        batch_size=settings.relay_batch_size,
        poll_interval_s=settings.relay_poll_interval_s,
        partition=partition,
        partitions=settings.relay_partitions,
        share=share,
    )


def relays_for(settings: Settings) -> RelayGroup:
    """One relay per partition; with several, at most this process's share of them active
    (its fair share among the relaying processes, within RELAY_MAX_PARTITIONS)."""
    partitions = settings.relay_partitions
    if partitions == 1:
        return RelayGroup([relay_for(settings)])
    share = RelayShare(partitions, cap=settings.relay_max_partitions)
    return RelayGroup(
        [relay_for(settings, p, share) for p in range(partitions)],
        share=share,
        database_url=settings.database_url,
    )


async def run_relay(context: AppContext) -> None:
    await (context.relay or relays_for(context.settings)).run()


def default_workers(settings: Settings) -> list[Worker]:
    """The background workers the API process runs (the outbox relay unless disabled)."""
    workers: list[Worker] = []
    if settings.relay_enabled:
        workers.append(run_relay)
    if settings.incidents_enabled:
        workers.append(incident_worker(settings.incident_rules_path))
    if settings.deliveries_enabled:
        workers.append(deliveries_worker)
    workers.append(purge_idempotency_keys)
    return workers


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
        wakeup = RelayWakeup(settings.database_url)
        # The relay of this process (if any) is woken directly; NOTIFY wakes the others'.
        relay = relays_for(settings) if run_relay in chosen else None
        if relay is not None:
            await check_partitions(settings.database_url, settings.relay_partitions)

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
        context = AppContext(settings=settings, service=service, relay=relay)
        tasks = [asyncio.create_task(_supervised(worker, context)) for worker in chosen]
        tasks.append(asyncio.create_task(wakeup.run()))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            _, stuck = await asyncio.wait(tasks, timeout=SHUTDOWN_TIMEOUT_S)
            for task in stuck:
                logger.warning("background task %s did not stop in time", task.get_name())
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


async def _supervised(worker: Worker, context: AppContext) -> None:
    """Run a worker; if it crashes, log and restart it after a pause (until cancelled)."""
    while True:
        try:
            await worker(context)
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("background worker %s crashed; restarting", worker.__name__)
            await asyncio.sleep(1.0)
