"""The email consumer process: a small HTTP app (/healthz, /readyz, /metrics) whose lifespan
runs the consumer. `create_app(settings)` builds it; nothing happens at import time."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field

import sqlalchemy as sa
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue, AbstractRobustConnection
from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from sqlalchemy.ext.asyncio import AsyncEngine

from database.engine import create_engine
from messaging import brokers
from messaging.consuming import Outcome, RetryingConsumer
from messaging.topology import declare_consumer, declare_events_exchange
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


@dataclass
class EmailConsumer:
    """Everything the running consumer holds; `stop()` drains in-flight messages first."""

    engine: AsyncEngine
    connection: AbstractRobustConnection
    queue: AbstractQueue
    consumer_tag: str
    smtp: SmtpPool
    in_flight: set[asyncio.Task[None]] = field(default_factory=set)

    async def stop(self) -> None:
        with suppress(Exception):
            await self.queue.cancel(self.consumer_tag)
        if self.in_flight:
            await asyncio.wait(self.in_flight, timeout=DRAIN_TIMEOUT_S)
        with suppress(Exception):
            await self.connection.close()
        await self.smtp.close()
        await self.engine.dispose()

    async def ready(self) -> bool:
        if self.connection.is_closed:
            return False
        try:
            async with self.engine.connect() as connection:
                await connection.execute(sa.text("SELECT 1"))
        except Exception:
            return False
        return True


async def start_consumer(settings: Settings, metrics: EmailMetrics) -> EmailConsumer:
    """Connect, declare the queue and its retry/dead-letter queues, and start consuming."""
    topology = settings.topology
    spec = consumer_spec(
        topology, settings.retry_delays_ms, settings.prefetch, settings.delivery_limit
    )
    engine = create_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        application_name="tocsin-email",
    )
    connection = await connect(settings.amqp_url)
    channel = await connection.channel(publisher_confirms=True)
    await channel.set_qos(prefetch_count=spec.prefetch)
    exchange = await declare_events_exchange(channel, topology)
    queue = await declare_consumer(channel, topology, spec)
    smtp = SmtpPool(SmtpOptions.from_settings(settings))
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
        outcomes=OutcomePublisher(exchange),
        metrics=metrics,
        max_attempts=len(spec.retry_delays_ms) + 1,
        in_flight=settings.smtp_connections,
    )

    def count(outcome: str, message: AbstractIncomingMessage, reason: str | None) -> None:
        if outcome == Outcome.RETRIED:
            metrics.retries.labels(reason or "unknown").inc()
        elif outcome == Outcome.DEAD_LETTERED:
            metrics.dead_lettered.labels(reason or "unknown").inc()

    retrying = RetryingConsumer(channel, topology, spec, make_handler(delivery), on_outcome=count)
    consumer = EmailConsumer(engine, connection, queue, "", smtp)

    async def on_message(message: AbstractIncomingMessage) -> None:
        task = asyncio.current_task()
        if task is not None:
            consumer.in_flight.add(task)
        try:
            await retrying(message)
        finally:
            if task is not None:
                consumer.in_flight.discard(task)

    consumer.consumer_tag = await queue.consume(on_message)
    logger.info("email consumer started", extra={"queue": queue.name, "prefetch": spec.prefetch})
    return consumer


async def connect(url: str, attempts: int = 30) -> AbstractRobustConnection:
    """A robust connection (it reconnects by itself later); waits for the broker at start."""
    for attempt in range(1, attempts + 1):
        try:
            return await brokers.connect_robust(url)
        except (ConnectionError, OSError) as exc:
            if attempt == attempts:
                raise
            logger.warning("broker not reachable, retrying", extra={"error": str(exc)})
            await asyncio.sleep(1.0)
    raise AssertionError("unreachable")


def create_app(settings: Settings) -> FastAPI:
    metrics = EmailMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        consumer = await start_consumer(settings, metrics)
        app.state.consumer = consumer
        try:
            yield
        finally:
            await consumer.stop()

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
            {"error": {"code": "not_ready", "message": "database or broker unreachable"}},
            status_code=503,
        )

    @app.get("/metrics")
    async def prometheus() -> Response:
        return metrics_response(metrics.registry)  # type: ignore[no-any-return]

    return app
