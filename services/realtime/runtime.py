"""One running realtime instance: the hub, the broker subscription, channels, presence and the
self-check, wired together, and their lifecycle (`start`, `stop`, `close`).

`build_runtime(settings)` makes every part and connects their callbacks; nothing connects until
`start`. Broker messages arrive in `Runtime.on_message`, which hands them to the hub, the
channel hub or channel presence; unusable ones are logged and dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from pydantic import ValidationError

from contracts.events import event_from_json
from contracts.realtime import REALTIME_PUSH
from contracts.websocket import CloseCode
from services.realtime.catchup import CatchupClient
from services.realtime.channel_bindings import ChannelBindings
from services.realtime.channel_catchup import IncidentCatchup
from services.realtime.channels import ChannelHub
from services.realtime.endpoint import SocketEndpoint
from services.realtime.hub import Hub
from services.realtime.messages import Outbound, UnusableMessage, from_envelope, from_push
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

    async def start(self) -> None:
        """Consume this instance's queue, open the typing and presence relays, start presence's
        heartbeat and the self-check. Raises what the broker raised when it cannot be reached."""
        await self.subscription.start()
        await self.channels.typing.start()
        await self.channel_presence.relay.start()
        self.presence.start()
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
            logger.warning(
                "dropped message: %s", exc, extra={"message_id": message_id, "routing_key": key}
            )
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

    async def close(self) -> None:
        """Release every connection (Redis, broker, HTTP client); after `stop`."""
        await self.presence.close()
        await self.channel_presence.close()
        await self.channel_presence.relay.close()
        await self.subscription.close()
        await self.channels.typing.close()
        await self.catchup.close()


def build_runtime(settings: Settings) -> Runtime:
    """Every part of an instance, their callbacks connected; nothing is connected yet."""
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
