"""The push service: devices API and (unless disabled) the queue consumer and the timers, in
one process whose resources live in the lifespan. A credential that is set but unusable stops
the start with one line saying which (fail closed); a broker that is not up does not: the
consumer connects in the background (`messaging.consumers`) and /readyz waits for it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from datetime import timedelta
from pathlib import Path

import httpx
from fastapi import FastAPI

from contracts.push import DeviceKind
from database.engine import create_engine
from messaging.consumers import QueueConsumer
from observability.tracing import TraceparentMiddleware
from outbound.transport import GuardedTransport
from services.push import api
from services.push.apns import ApnsChannel, ProviderToken
from services.push.channels import PushChannel, Unconfigured
from services.push.consumer import PushConsumer, consumer_spec
from services.push.fcm import FcmChannel, ServiceAccount
from services.push.metrics import Metrics
from services.push.outcomes import OutcomePublisher
from services.push.policy import PushPolicy
from services.push.presence import PresenceLookup
from services.push.retention import prune_forever
from services.push.sender import Sender, SendPolicy
from services.push.settings import Settings
from services.push.vapid import VapidSigner
from services.push.webpush import WebPushChannel

logger = logging.getLogger(__name__)

USER_AGENT = "Tocsin-Push/1.0"


def push_client(settings: Settings, *, http2_only: bool = False) -> httpx.AsyncClient:
    """An httpx client that reaches only public addresses (and the allow-listed targets)."""
    transport = GuardedTransport(
        settings.targets(),
        max_connections=settings.max_concurrency * 2,
        http2=True,
        http2_only=http2_only,
    )
    return httpx.AsyncClient(
        transport=transport,
        timeout=httpx.Timeout(settings.timeout_s),
        follow_redirects=False,
        trust_env=False,
        headers={"user-agent": USER_AGENT},
    )


def _secret_text(value: str) -> str:
    """A PEM/JSON value given inline, or the path of a file holding it."""
    stripped = value.strip()
    if stripped.startswith(("-----BEGIN", "{")):
        return stripped
    return Path(stripped).read_text()


def build_channels(
    settings: Settings, stack: AsyncExitStack
) -> tuple[dict[DeviceKind, PushChannel], str | None]:
    """The channel of every device kind (unconfigured kinds fail their sends), and the VAPID
    public key. Raises ValueError when a credential is set but unusable."""
    client = push_client(settings)
    stack.push_async_callback(client.aclose)
    channels: dict[DeviceKind, PushChannel] = {
        kind: Unconfigured(f"{kind.value} push") for kind in DeviceKind
    }
    public_key = None
    if settings.vapid_private_key:
        signer = VapidSigner.from_private_key(settings.vapid_private_key, settings.vapid_subject)
        channels[DeviceKind.WEB] = WebPushChannel(client, signer, settings.timeout_s)
        public_key = signer.public_key
    if settings.fcm_credentials:
        account = ServiceAccount.load(settings.fcm_credentials, settings.fcm_token_url)
        channels[DeviceKind.FCM] = FcmChannel(client, account, settings.fcm_url, settings.timeout_s)
    if settings.apns_key:
        if not (settings.apns_key_id and settings.apns_team_id):
            raise ValueError("PUSH_APNS_KEY needs PUSH_APNS_KEY_ID and PUSH_APNS_TEAM_ID")
        http2 = push_client(settings, http2_only=True)
        stack.push_async_callback(http2.aclose)
        token = ProviderToken(
            _secret_text(settings.apns_key), settings.apns_key_id, settings.apns_team_id
        )
        token.get()  # a key that cannot sign fails the start, not the first push
        channels[DeviceKind.APNS] = ApnsChannel(
            http2,
            token,
            settings.apns_production_url,
            settings.apns_sandbox_url,
            settings.timeout_s,
        )
    return channels, public_key


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            channels, public_key = build_channels(settings, stack)
            engine = create_engine(
                settings.database_url,
                pool_size=settings.db_pool_size,
                max_overflow=settings.db_pool_size,
                application_name="tocsin-push",
            )
            stack.push_async_callback(engine.dispose)
            state = api.ServiceState(
                settings=settings,
                engine=engine,
                metrics=Metrics(),
                vapid_public_key=public_key,
                enabled_kinds=frozenset(
                    kind
                    for kind, channel in channels.items()
                    if not isinstance(channel, Unconfigured)
                ),
                allowed_targets=settings.targets(),
            )
            app.state.push = state
            if settings.consumer_enabled:
                await _start_background(settings, state, channels, stack)
            yield

    app = FastAPI(
        title="Tocsin push",
        description="Register browsers and phones for push notifications.",
        lifespan=lifespan,
    )
    app.add_middleware(TraceparentMiddleware)
    api.install(app)
    return app


async def _start_background(
    settings: Settings,
    state: api.ServiceState,
    channels: dict[DeviceKind, PushChannel],
    stack: AsyncExitStack,
) -> None:
    topology = settings.topology
    spec = consumer_spec(
        topology, settings.retry_delays_ms, settings.delivery_limit, settings.prefetch
    )
    queue = QueueConsumer(settings.amqp_url, topology, spec)
    sender = Sender(
        state.engine,
        channels,
        SendPolicy(
            ttl_s=settings.ttl_s,
            max_attempts=settings.max_send_attempts,
            backoff_s=settings.send_backoff_s,
            batch=settings.timer_batch,
            poll_s=settings.timer_poll_s,
            max_concurrency=settings.max_concurrency,
        ),
        state.metrics,
        OutcomePublisher(queue.current_exchange),
    )
    presence = PresenceLookup(settings.realtime_url, settings.jwt, settings.presence_timeout_s)
    stack.push_async_callback(presence.close)
    consumer = PushConsumer(
        state.engine,
        PushPolicy(settings.delay_s, settings.delay_by_priority, settings.delay_by_type),
        presence,
        sender,
        state.metrics,
    )
    await stack.enter_async_context(queue.consuming(consumer.handle, consumer.count))
    sender.start()
    stack.push_async_callback(sender.stop)
    pruning = asyncio.create_task(
        prune_forever(
            state.engine, timedelta(days=settings.retention_days), settings.prune_interval_s
        )
    )
    stack.push_async_callback(_cancel, pruning)
    state.readiness.extend([lambda: queue.ready, lambda: sender.running])


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with suppress(asyncio.CancelledError):
        await task
