"""The email consumer process: a small HTTP app (/healthz, /readyz, /metrics) whose lifespan
runs the consumer. `create_app(settings)` builds it; nothing happens at import time.

The process starts whether RabbitMQ is up or not: the consumer (`messaging.consumers`)
connects in the background and /readyz stays 503 until it is on its queue."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import sqlalchemy as sa
from aio_pika.abc import AbstractIncomingMessage
from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from sqlalchemy.ext.asyncio import AsyncEngine

from database.engine import create_engine
from messaging.consumers import QueueConsumer
from messaging.consuming import Outcome
from observability.metrics import metrics_response
from services.email.composition import Composer, domain_of
from services.email.consumer import consumer_spec, make_handler
from services.email.delivery import EmailDelivery
from services.email.metrics import EmailMetrics
from services.email.outcomes import OutcomePublisher
from services.email.rendering import Renderer
from services.email.settings import Settings
from services.email.smtp import SmtpOptions, SmtpPool

logger = logging.getLogger(__name__)

DRAIN_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class EmailConsumer:
    """What /readyz looks at while the consumer runs."""

    engine: AsyncEngine
    queue: QueueConsumer

    async def ready(self) -> bool:
        """True when the consumer is on its queue and the database answers."""
        if not self.queue.ready:
            return False
        try:
            async with self.engine.connect() as connection:
                await connection.execute(sa.text("SELECT 1"))
        except Exception:
            return False
        return True


@asynccontextmanager
async def running_consumer(
    settings: Settings, metrics: EmailMetrics
) -> AsyncIterator[EmailConsumer]:
    """The consumer, its database engine and SMTP pool for the duration of the block. The
    block starts at once; on exit the consumer drains its in-flight messages (at most
    DRAIN_TIMEOUT_S) before the SMTP pool and the engine close."""
    topology = settings.topology
    spec = consumer_spec(
        topology, settings.retry_delays_ms, settings.prefetch, settings.delivery_limit
    )
    async with AsyncExitStack() as stack:
        engine = create_engine(
            settings.database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_pool_size,
            application_name="tocsin-email",
        )
        stack.push_async_callback(engine.dispose)
        smtp = SmtpPool(SmtpOptions.from_settings(settings))
        stack.push_async_callback(smtp.close)
        queue = QueueConsumer(settings.amqp_url, topology, spec, stop_grace_s=DRAIN_TIMEOUT_S)
        composer = Composer(
            renderer=Renderer.create(
                settings.app_url, settings.templates_dir, settings.entity_link_hosts
            ),
            sender=settings.email_from,
            message_id_domain=settings.message_id_domain or domain_of(settings.email_from),
            public_api_url=settings.public_api_url,
            unsubscribe_secret=settings.unsubscribe_secret,
            unsubscribe_mailto=settings.unsubscribe_mailto,
        )
        delivery = EmailDelivery(
            engine=engine,
            composer=composer,
            smtp=smtp,
            outcomes=OutcomePublisher(queue.current_exchange),
            metrics=metrics,
            max_attempts=len(spec.retry_delays_ms) + 1,
            in_flight=settings.smtp_connections,
        )

        def count(outcome: str, message: AbstractIncomingMessage, reason: str | None) -> None:
            if outcome == Outcome.RETRIED:
                metrics.retries.labels(reason or "unknown").inc()
            elif outcome == Outcome.DEAD_LETTERED:
                metrics.dead_lettered.labels(reason or "unknown").inc()

        await stack.enter_async_context(queue.consuming(make_handler(delivery), count))
        yield EmailConsumer(engine, queue)


def create_app(settings: Settings) -> FastAPI:
    metrics = EmailMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with running_consumer(settings, metrics) as consumer:
            app.state.consumer = consumer
            yield

    app = FastAPI(title="Tocsin email consumer", lifespan=lifespan, docs_url=None)
    app.state.metrics = metrics

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> Response:
        if await app.state.consumer.ready():
            return JSONResponse({"status": "ready"})
        return JSONResponse(
            {"error": {"code": "not_ready", "message": "not consuming, or database unreachable"}},
            status_code=503,
        )

    @app.get("/metrics")
    async def prometheus() -> Response:
        return metrics_response(metrics.registry)  # type: ignore[no-any-return]

    return app
