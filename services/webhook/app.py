"""The webhook service: registration API and (unless disabled) the queue consumer, in one
process whose resources live in the lifespan. The API serves whether RabbitMQ is up or not;
the consumer connects in the background (`messaging.consumers`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from datetime import timedelta

from fastapi import FastAPI

from database.engine import create_engine
from identity.rate_limit import CallerLimits
from messaging.consumers import QueueConsumer
from observability.tracing import TraceparentMiddleware
from outbound.addresses import PrivateTargets
from services.webhook import api
from services.webhook.consumer import STOP_GRACE_S, WebhookHandler, consumer_spec
from services.webhook.delivery import Deliverer, DeliveryPolicy
from services.webhook.http import webhook_client
from services.webhook.metrics import Metrics
from services.webhook.outcomes import OutcomeEvents
from services.webhook.retention import prune_forever
from services.webhook.settings import Settings

logger = logging.getLogger(__name__)


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            engine = create_engine(
                settings.database_url,
                pool_size=settings.max_concurrency + 4,
                application_name="tocsin-webhook",
            )
            stack.push_async_callback(engine.dispose)
            targets = settings.private_targets
            _log_targets(targets)
            state = api.ServiceState(
                settings=settings,
                engine=engine,
                metrics=Metrics(),
                limits=CallerLimits(people=settings.user_rate, services=settings.service_rate),
                private_targets=targets,
            )
            app.state.webhook = state
            if settings.consumer_enabled:
                state.consumer = await _start_consumer(settings, state, stack)
            yield

    app = FastAPI(
        title="Tocsin webhooks",
        description="Register webhook endpoints and inspect their delivery attempts.",
        lifespan=lifespan,
        docs_url="/docs" if settings.docs_enabled else None,
        redoc_url="/redoc" if settings.docs_enabled else None,
        openapi_url="/openapi.json" if settings.docs_enabled else None,
    )
    app.add_middleware(TraceparentMiddleware)
    api.install(app)
    return app


async def _start_consumer(
    settings: Settings, state: api.ServiceState, stack: AsyncExitStack
) -> QueueConsumer:
    """The consumer and the pruning timer, in the background: the service starts whether
    RabbitMQ is up or not, and /readyz waits for the consumer."""
    client = webhook_client(state.private_targets, settings.timeout_s, settings.max_concurrency * 2)
    stack.push_async_callback(client.aclose)
    topology = settings.topology
    spec = consumer_spec(
        topology,
        settings.retry_delays_ms,
        settings.delivery_limit,
        settings.prefetch,
        settings.retry_jitter,
    )
    consumer = QueueConsumer(settings.amqp_url, topology, spec, stop_grace_s=STOP_GRACE_S)
    policy = DeliveryPolicy(
        timeout_s=settings.timeout_s,
        max_response_bytes=settings.max_response_bytes,
        retry_delays_ms=settings.retry_delays_ms,
        retry_jitter=settings.retry_jitter,
        disable_after=timedelta(seconds=settings.disable_after_s),
    )
    deliverer = Deliverer(
        state.engine,
        client,
        policy,
        state.metrics,
        OutcomeEvents(consumer.current_exchange).publish,
        settings.max_concurrency,
        settings.endpoint_rate,
    )
    handler = WebhookHandler(deliverer, state.metrics)
    await stack.enter_async_context(consumer.consuming(handler, handler.count))
    pruning = asyncio.create_task(
        prune_forever(
            state.engine, timedelta(days=settings.retention_days), settings.prune_interval_s
        )
    )
    stack.push_async_callback(_cancel, pruning)
    return consumer


def _log_targets(targets: PrivateTargets) -> None:
    refused = sorted(f"{address}:{port}" for address, port in targets.pairs - targets.usable)
    if refused:
        logger.warning("private webhook targets on Tocsin's own ports are ignored: %s", refused)
    if targets.usable:
        allowed = sorted(f"{address}:{port}" for address, port in targets.usable)
        logger.warning("webhooks may reach these private targets (testing only): %s", allowed)


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with suppress(asyncio.CancelledError):
        await task
