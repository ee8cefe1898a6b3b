"""The realtime service as an ASGI app: the WebSocket endpoint plus health, readiness and metrics.

`create_app(settings)` returns an ASGI callable. WebSocket handshakes on `WS_PATH` go straight
to `SocketEndpoint`; everything else (HTTP routes, lifespan) is a FastAPI app. Broker
connection, HTTP client and hub live in the lifespan.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError

from contracts.events import event_from_json
from contracts.realtime import REALTIME_PUSH
from contracts.websocket import WS_PATH, CloseCode
from services.realtime.catchup import CatchupClient
from services.realtime.channel_bindings import ChannelBindings
from services.realtime.channel_catchup import IncidentCatchup
from services.realtime.channels import ChannelHub
from services.realtime.endpoint import SocketEndpoint
from services.realtime.hub import Hub
from services.realtime.messages import Outbound, UnusableMessage, from_envelope, from_push
from services.realtime.metrics import registry_for
from services.realtime.presence import routes as presence_routes
from services.realtime.presence.channel_access import ChannelAccess
from services.realtime.presence.channels import ChannelPresenceHub
from services.realtime.presence.relay import PresenceRelay
from services.realtime.presence.service import Presence
from services.realtime.selfcheck import SelfCheck
from services.realtime.settings import Settings
from services.realtime.subscription import Subscription
from services.realtime.typing import TypingRelay

logger = logging.getLogger(__name__)

_PUSH_PREFIX = f"{REALTIME_PUSH}."


@dataclass
class Runtime:
    """Everything one running instance holds."""

    settings: Settings
    hub: Hub
    subscription: Subscription
    catchup: CatchupClient
    endpoint: SocketEndpoint
    channels: ChannelHub
    presence: Presence
    channel_presence: ChannelPresenceHub
    selfcheck: SelfCheck
    consumed: int = 0
    dropped: int = 0
    position: int = 0
    """The highest event store position received (the relay publishes in position order)."""
    stopping: bool = field(default=False)
    _checking: asyncio.Task[None] | None = None

    def start_self_check(self) -> None:
        if self.settings.self_check_interval_s > 0:
            self._checking = asyncio.get_running_loop().create_task(self.selfcheck.run())

    def on_message(self, key: str, body: bytes, message_id: str | None) -> None:
        """A broker message → the hub. Unusable messages are logged and dropped."""
        self.consumed += 1
        outbound: Outbound | None
        try:
            if self.channels.handles(key):
                self.channels.on_broker_message(key, body)
                return
            if self.channel_presence.handles(key):
                self.channel_presence.on_signal(body)
                return
            if key.startswith(_PUSH_PREFIX):
                outbound = from_push(body)
            else:
                envelope = event_from_json(body)
                if envelope.position is not None and envelope.position > self.position:
                    self.position = envelope.position
                outbound = from_envelope(envelope)
        except (UnusableMessage, ValidationError, ValueError) as exc:
            self.dropped += 1
            logger.warning("dropped message id=%s key=%s: %s", message_id, key, exc)
            return
        if outbound is not None:
            self.hub.dispatch(outbound)

    def on_broker_reconnected(self) -> None:
        """This instance's queue died with the broker connection, and the events published
        until it was declared and bound again reached no one here: close every socket with
        1012 so its client reconnects with `since` and gets the gap from the event store."""
        self.hub.forget_all()
        self.channels.on_broker_reconnected()
        sockets = list(self.hub.connections())
        for connection in sockets:
            connection.close(CloseCode.SERVICE_RESTART, "broker reconnected: catch up")
        logger.warning("broker reconnected: closed %d sockets to catch up", len(sockets))

    async def stop(self) -> None:
        """Stop consuming, refuse new sockets and close every socket with 1012."""
        if self.stopping:
            return
        self.stopping = True
        self.endpoint.accepting = False
        if self._checking is not None:
            self._checking.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checking
        await self.subscription.stop_consuming()
        for connection in self.hub.connections():
            connection.close(CloseCode.SERVICE_RESTART, "server restarting")
        logger.info("stopped consuming and closed sockets")


def build_runtime(settings: Settings) -> Runtime:
    hub = Hub(settings.max_connections_per_user)
    catchup = CatchupClient(
        settings.notification_api_url,
        settings.jwt,
        settings.notification_api_token,
        settings.catchup_limit,
        settings.catchup_timeout_s,
    )
    runtime: Runtime
    subscription = Subscription(
        settings.amqp_url,
        settings.topology,
        settings.instance_id,
        settings.unbind_grace_s,
        lambda key, body, message_id: runtime.on_message(key, body, message_id),
        reconnect_interval_s=settings.broker_reconnect_interval_s,
    )
    presence = Presence.connect(
        settings.redis_url,
        settings.presence_key_prefix,
        settings.instance_id,
        heartbeat_s=settings.presence_heartbeat_s,
        dead_after_s=settings.presence_dead_after_s,
        leave_delay_s=settings.presence_leave_delay_s,
    )

    def on_last(user_id: str) -> None:
        subscription.release(user_id)
        presence.tracker.user_disconnected(user_id)

    hub.on_first = presence.tracker.user_connected
    hub.on_last = on_last
    subscription.on_unbound = hub.forget
    channels = ChannelHub(
        ChannelBindings(subscription),
        IncidentCatchup(catchup),
        TypingRelay(settings.amqp_url, settings.topology),
        settings.jwt,
        settings.max_channels_per_socket,
    )
    endpoint = SocketEndpoint(
        hub,
        subscription,
        catchup,
        settings.jwt,
        settings.origins,
        settings.outbound_buffer_messages,
        channels,
    )
    channel_presence = ChannelPresenceHub(
        presence, PresenceRelay(settings.amqp_url, settings.topology), channels.presence_watchers
    )
    channels.on_open = channel_presence.joined
    channels.on_user_left = channel_presence.left
    selfcheck = SelfCheck(
        hub,
        subscription,
        catchup,
        lambda: runtime.position,
        settings.self_check_interval_s,
    )
    runtime = Runtime(
        settings,
        hub,
        subscription,
        catchup,
        endpoint,
        channels,
        presence,
        channel_presence,
        selfcheck,
    )
    subscription.on_reconnected = runtime.on_broker_reconnected
    return runtime


class RealtimeApp:
    """ASGI entry: the socket endpoint for `WS_PATH`, FastAPI for the rest."""

    def __init__(self, api: FastAPI) -> None:
        self.api = api

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.api.state.runtime
        return runtime

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "websocket" and scope["path"] == WS_PATH:
            socket = self.runtime.endpoint(scope, receive, send)
            del scope  # the endpoint drops it once the socket is open: an idle socket keeps less
            await socket
            return
        await self.api(scope, receive, send)


def create_app(settings: Settings) -> RealtimeApp:
    settings.jwt.verification_key  # noqa: B018 - fail at start-up, not on the first socket

    @asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
        runtime = build_runtime(settings)
        api.state.runtime = runtime
        api.state.registry = registry_for(runtime)
        await runtime.subscription.start()
        await runtime.channels.typing.start()
        await runtime.channel_presence.relay.start()
        runtime.presence.start()
        runtime.start_self_check()
        logger.info(
            "realtime instance %s ready namespace=%s",
            settings.instance_id,
            settings.tocsin_namespace,
        )
        try:
            yield
        finally:
            await runtime.stop()
            await runtime.presence.close()
            await runtime.channel_presence.close()
            await runtime.channel_presence.relay.close()
            await runtime.subscription.close()
            await runtime.channels.typing.close()
            await runtime.catchup.close()

    api = FastAPI(title="Tocsin realtime", lifespan=lifespan, docs_url=None, redoc_url=None)

    @api.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @api.get("/readyz")
    async def readyz() -> Response:
        runtime: Runtime = api.state.runtime
        if runtime.stopping or not runtime.subscription.ready:
            return JSONResponse(
                {"error": {"code": "not_ready", "message": "not consuming from the broker"}},
                status_code=503,
            )
        return JSONResponse({"status": "ready", "instance_id": settings.instance_id})

    presence_routes.install(
        api,
        lambda: api.state.runtime.presence,
        lambda: ChannelAccess(IncidentCatchup(api.state.runtime.catchup), settings.jwt),
        settings.jwt,
    )

    @api.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(api.state.registry), media_type=CONTENT_TYPE_LATEST)

    return RealtimeApp(api)
