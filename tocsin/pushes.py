"""Ephemeral pushes to open sockets, through the realtime service's `realtime.push` path.

A push goes to the events exchange with routing key `realtime.push.<user key>` (or
`realtime.push.all`), mandatory and with publisher confirms. Every realtime instance holding a
socket of that user is bound to that key, so a push the broker could not route means: no
instance holds the user right now, and the push is dropped (pushes are never stored, never
replayed after a reconnect). Durable notifications go through `create_notification`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractRobustConnection
from pydantic import ValidationError

from contracts.realtime import REALTIME_PUSH, RealtimePush
from contracts.topology import Topology, routing_key
from contracts.websocket import ServerEvent
from messaging import brokers
from messaging.publisher import PublishNotConfirmed, Unroutable, publish_confirmed
from tocsin.errors import InvalidPush, PushFailed

EVERYONE = "*"


def push_for(user_id: str, message: Mapping[str, Any]) -> RealtimePush:
    """The contract message for `{"event": ..., "data": {...}[, "seq": n]}`; raises InvalidPush."""
    try:
        return RealtimePush.model_validate({**message, "user_id": user_id})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise InvalidPush(problems) from None


class Pusher:
    """Publishes pushes over one AMQP connection (opened on first use, closed by `close`)."""

    def __init__(self, amqp_url: str, topology: Topology, timeout_s: float) -> None:
        self.amqp_url = amqp_url
        self.topology = topology
        self.timeout_s = timeout_s
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._lock = asyncio.Lock()

    async def _events_exchange(self) -> AbstractExchange:
        async with self._lock:
            if self._exchange is None:
                try:
                    self._connection = await asyncio.wait_for(
                        brokers.connect_robust(self.amqp_url, fail_fast=True), self.timeout_s
                    )
                    self._channel = await self._connection.channel(publisher_confirms=True)
                    self._exchange = await self._channel.get_exchange(
                        self.topology.events_exchange, ensure=True
                    )
                except (OSError, TimeoutError, aio_pika.exceptions.AMQPError) as exc:
                    await self.close()
                    raise PushFailed(f"cannot reach the broker: {type(exc).__name__}") from exc
            return self._exchange

    async def push(self, push: RealtimePush) -> bool:
        """True when at least one realtime instance took it (it holds the user, or any
        instance for a push to everyone); False when nobody could receive it. Raises
        PushFailed when the broker is unreachable or does not confirm within the timeout."""
        exchange = await self._events_exchange()
        message = aio_pika.Message(
            body=push.model_dump_json().encode(),
            content_type="application/json",
            type=REALTIME_PUSH,
        )
        key = routing_key(REALTIME_PUSH, push.user_id)
        try:
            await publish_confirmed(exchange, message, key, timeout=self.timeout_s)
        except Unroutable:
            return False
        except PublishNotConfirmed as exc:
            raise PushFailed(str(exc)) from exc
        except aio_pika.exceptions.AMQPError as exc:
            raise PushFailed(f"broker error: {type(exc).__name__}") from exc
        return True

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        self._channel = self._exchange = None
        if connection is not None:
            await connection.close()


class PushApi:
    """The feature description's NotificationConnectionManager and broadcast helpers, for any
    Python service, cluster-wide (mixed into `tocsin.Tocsin`)."""

    _pusher: Pusher

    async def send_to_user(self, user_id: str, message: Mapping[str, Any]) -> bool:
        """Send `{"event": ..., "data": {...}}` to every socket of `user_id` (every tab and
        device, on every realtime instance). False when the user has no open socket."""
        return await self._pusher.push(push_for(user_id, message))

    async def broadcast_to_users(
        self, user_ids: Iterable[str], message: Mapping[str, Any]
    ) -> dict[str, bool]:
        """`send_to_user` for each user; user id → whether someone received it. Every push is
        checked before the first is sent."""
        pushes = [push_for(user_id, message) for user_id in dict.fromkeys(user_ids)]
        return {push.user_id: await self._pusher.push(push) for push in pushes}

    async def broadcast_to_all(self, message: Mapping[str, Any]) -> bool:
        """Send to every open socket of every user; False when no realtime instance runs."""
        return await self._pusher.push(push_for(EVERYONE, message))

    async def broadcast_notification(
        self,
        user_id: str,
        notification_data: Mapping[str, Any],
        event_type: str = ServerEvent.NOTIFICATION_NEW.value,
    ) -> bool:
        """Push a notification-shaped event to one user, as the description's helper does.
        Ephemeral: it is not in the user's list after a reload; use `create_notification` for
        one that is stored, counted and emailed."""
        return await self.send_to_user(user_id, {"event": event_type, "data": notification_data})

    async def broadcast_notification_to_users(
        self,
        user_ids: Iterable[str],
        notification_data: Mapping[str, Any],
        event_type: str = ServerEvent.NOTIFICATION_NEW.value,
    ) -> dict[str, bool]:
        return await self.broadcast_to_users(
            user_ids, {"event": event_type, "data": notification_data}
        )

    async def broadcast_stats_update(self, user_id: str, stats: Mapping[str, Any]) -> bool:
        """Push `stats:updated` (`{"total": ..., "unread": ...}`) to one user's sockets."""
        return await self.send_to_user(
            user_id, {"event": ServerEvent.STATS_UPDATED.value, "data": stats}
        )
