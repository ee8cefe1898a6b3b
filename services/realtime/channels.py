"""Channels on a socket: subscribe, unsubscribe, channel events and typing (contracts.channels).

Who may subscribe:
- `incident:<id>`: the people the incident's events named, or a socket whose token has the
  `notifications:admin` scope; asked of the notification service (`channel_catchup`).
- any other namespace: a channel token for this user and this channel (`identity.channel_tokens`).
Everyone else gets `error` `forbidden_channel`; an unknown incident gets the same answer.

Subscribing is the personal stream's catch-up, per channel: the socket joins the channel with
its live events parked, the instance binds the channel's routing key, the notification service
answers the access check and the updates after `since` in one request, then the socket gets
`subscribed`, the missed updates in seq order, and the parked ones with a seq above the last
sent; from then on every update whose seq is not above the last one sent is dropped. More than
`CATCHUP_LIMIT` missed updates (or a `since` ahead of the channel) → `recovered: false`.

A socket's channel messages are handled one after the other (one task while any is pending),
at most `PENDING_MAX` waiting; a socket holds at most `max_per_socket` channels.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from contracts.channels import (
    TYPING_SIGNAL,
    ChannelError,
    IncidentUpdated,
    Subscribe,
    Subscribed,
    Typing,
    TypingNotice,
    TypingSignal,
    Unsubscribe,
    incident_of,
    is_channel,
)
from contracts.events import EventEnvelope, EventType
from contracts.websocket import ClientMessageType, ServerEvent
from identity import JwtSettings, TokenError
from identity.channel_tokens import verify_channel_token
from services.realtime.channel_bindings import ChannelBindings
from services.realtime.channel_catchup import IncidentCatchup, MissedUpdates, NotAllowed
from services.realtime.connection import Connection
from services.realtime.messages import Outbound, UnusableMessage, render
from services.realtime.typing import TypingRelay, TypingThrottle

logger = logging.getLogger(__name__)

PENDING_MAX = 32
CHANNEL_MESSAGES = frozenset(
    {ClientMessageType.SUBSCRIBE, ClientMessageType.UNSUBSCRIBE, ClientMessageType.TYPING}
)
_UPDATED_PREFIX = f"{EventType.INCIDENT_UPDATED}."
_TYPING_PREFIX = f"{TYPING_SIGNAL}."


class Membership:
    """One socket in one channel. While `parked` is a list, the channel's live events wait in
    it (the subscribe is still catching up); afterwards events with `seq <= last_seq` are
    dropped, so the socket never gets a channel event twice."""

    __slots__ = ("channel", "connection", "last_seq", "parked", "presence")

    def __init__(self, connection: Connection, channel: str, presence: bool = False) -> None:
        self.connection = connection
        self.channel = channel
        self.parked: list[Outbound] | None = []
        self.last_seq = 0
        self.presence = presence

    def deliver(self, outbound: Outbound) -> None:
        if self.parked is not None:
            self.parked.append(outbound)
            return
        seq = outbound.seq
        if seq is not None:
            if seq <= self.last_seq:
                return
            self.last_seq = seq
        for text, wire in zip(outbound.frames, outbound.wire, strict=True):
            if not self.connection.push(text, wire):
                return


class ChannelHub:
    def __init__(
        self,
        bindings: ChannelBindings,
        incidents: IncidentCatchup,
        typing: TypingRelay,
        jwt: JwtSettings,
        max_per_socket: int,
        throttle: TypingThrottle | None = None,
    ) -> None:
        self.bindings = bindings
        self.incidents = incidents
        self.typing = typing
        self.jwt = jwt
        self.max_per_socket = max_per_socket
        self.throttle = throttle or TypingThrottle()
        self._members: dict[str, dict[Connection, Membership]] = {}
        self._sockets: dict[Connection, dict[str, Membership]] = {}
        self._admins: set[Connection] = set()
        self._pending: dict[Connection, deque[dict[str, Any]]] = {}
        self._workers: dict[Connection, asyncio.Task[None]] = {}
        self.subscribes = 0
        self.refusals = 0
        self.on_open: Callable[[Connection, str, bool], None] | None = None
        """(socket, channel, asked for presence events): a subscription opened (presence)."""
        self.on_user_left: Callable[[str, str], None] | None = None
        """(user, channel): the user's last open subscription to the channel here ended."""

    # -- sockets ----------------------------------------------------------------------------

    def admit(self, connection: Connection, admin: bool) -> None:
        """A socket is open; `admin` when its token has the admin scope."""
        if admin:
            self._admins.add(connection)

    def drop(self, connection: Connection) -> None:
        """The socket is gone: leave every channel it is in."""
        self._admins.discard(connection)
        self._pending.pop(connection, None)
        worker = self._workers.pop(connection, None)
        if worker is not None:
            worker.cancel()
        for membership in list(self._sockets.get(connection, {}).values()):
            self._leave(membership)
        self._sockets.pop(connection, None)

    def channels_of(self, connection: Connection) -> list[str]:
        return list(self._sockets.get(connection, {}))

    def subscribers(self, channel: str) -> int:
        return len(self._members.get(channel, ()))

    def presence_watchers(self, channel: str) -> list[Connection]:
        """Sockets here with an open subscription to `channel` made with `"presence": true`."""
        members = self._members.get(channel, {})
        return [c for c, m in members.items() if m.presence and m.parked is None]

    def on_broker_reconnected(self) -> None:
        """The queue is new: no channel is bound any more, and every socket is being closed."""
        self.bindings.forget_all()
        for connection in list(self._sockets):
            self.drop(connection)

    # -- client messages --------------------------------------------------------------------

    def on_message(self, connection: Connection, payload: dict[str, Any]) -> None:
        """A `subscribe`, `unsubscribe` or `typing` message, handled after the earlier ones."""
        pending = self._pending.setdefault(connection, deque())
        if len(pending) >= PENDING_MAX:
            _error(connection, ChannelError.BAD_REQUEST, "too many channel messages in flight")
            return
        pending.append(payload)
        if connection not in self._workers:
            task = asyncio.get_running_loop().create_task(self._work(connection))
            self._workers[connection] = task

    async def _work(self, connection: Connection) -> None:
        try:
            pending = self._pending.get(connection)
            while pending:
                payload = pending.popleft()
                try:
                    await self._handle(connection, payload)
                except Exception:
                    logger.exception(
                        "channel message failed", extra={"user_id": connection.user_id}
                    )
                    _error(connection, ChannelError.CHANNEL_UNAVAILABLE, "try again")
        finally:
            if self._workers.get(connection) is asyncio.current_task():
                del self._workers[connection]
            if not self._pending.get(connection):
                self._pending.pop(connection, None)

    async def _handle(self, connection: Connection, payload: dict[str, Any]) -> None:
        if connection.closed:
            return
        kind = payload.get("type")
        model: type[BaseModel] = (
            Subscribe
            if kind == ClientMessageType.SUBSCRIBE
            else Unsubscribe
            if kind == ClientMessageType.UNSUBSCRIBE
            else Typing
        )
        try:
            message = model.model_validate(payload)
        except ValidationError as exc:
            fields = sorted({str(e["loc"][0]) for e in exc.errors() if e["loc"]})
            _error(connection, ChannelError.BAD_REQUEST, f"invalid {kind}: {', '.join(fields)}")
            return
        channel = getattr(message, "channel", "")
        if not is_channel(channel):
            _error(connection, ChannelError.UNKNOWN_CHANNEL, "not <namespace>:<name>", channel)
            return
        if isinstance(message, Subscribe):
            await self._subscribe(connection, message)
        elif isinstance(message, Unsubscribe):
            self._unsubscribe(connection, message.channel)
        elif isinstance(message, Typing):
            self._typing(connection, message)

    async def _subscribe(self, connection: Connection, message: Subscribe) -> None:
        channel = message.channel
        joined = self._sockets.setdefault(connection, {})
        current = joined.get(channel)
        if current is not None:
            _send(
                connection,
                ServerEvent.SUBSCRIBED,
                Subscribed(channel=channel, seq=current.last_seq, recovered=True),
            )
            return
        if len(joined) >= self.max_per_socket:
            _error(
                connection,
                ChannelError.TOO_MANY_CHANNELS,
                f"at most {self.max_per_socket}",
                channel,
            )
            return
        incident_id = incident_of(channel)
        if incident_id is None and not self._token_allows(connection, channel, message.token):
            return
        membership = self._join(connection, channel)
        membership.presence = message.presence
        try:
            await self.bindings.acquire(channel)
            missed = await self._missed(connection, incident_id, message.since)
        except NotAllowed:
            self._refuse(membership, "not a participant of this incident")
            return
        except Exception as exc:  # the broker or the notification service: try again later
            logger.warning(
                "subscribe failed: %s",
                exc,
                extra={"channel": channel, "user_id": connection.user_id},
            )
            self._leave(membership)
            _error(connection, ChannelError.CHANNEL_UNAVAILABLE, "try again later", channel)
            return
        if self._sockets.get(connection, {}).get(channel) is not membership:
            return  # the socket left meanwhile
        self._open(membership, message.since, missed)

    def _token_allows(self, connection: Connection, channel: str, token: str | None) -> bool:
        try:
            verify_channel_token(token, self.jwt, connection.user_id, channel)
        except TokenError as exc:
            self.refusals += 1
            logger.info(
                "channel token refused: %s",
                exc.code,
                extra={"channel": channel, "user_id": connection.user_id},
            )
            _error(connection, ChannelError.FORBIDDEN_CHANNEL, "no valid channel token", channel)
            return False
        return True

    async def _missed(
        self, connection: Connection, incident_id: str | None, since: int | None
    ) -> MissedUpdates:
        if incident_id is None:  # token channels carry ephemeral events only
            return MissedUpdates([], 0, True)
        asker = None if connection in self._admins else connection.user_id
        return await self.incidents.missed(incident_id, asker, since)

    def _open(self, membership: Membership, since: int | None, missed: MissedUpdates) -> None:
        recovered = since is None or (missed.complete and since <= missed.latest_seq)
        subscribed = Subscribed(
            channel=membership.channel, seq=missed.latest_seq, recovered=recovered
        )
        _send(membership.connection, ServerEvent.SUBSCRIBED, subscribed)
        parked = membership.parked or []
        membership.parked = None
        membership.last_seq = since if (recovered and since is not None) else missed.latest_seq
        if recovered:
            for update in missed.updates:
                membership.deliver(_update_outbound(update.model_dump(mode="json"), update.seq))
        membership.last_seq = max(membership.last_seq, missed.latest_seq)
        for outbound in parked:
            membership.deliver(outbound)
        self.subscribes += 1
        if self.on_open is not None:
            self.on_open(membership.connection, membership.channel, membership.presence)
        logger.info(
            "subscribed",
            extra={
                "channel": membership.channel,
                "user_id": membership.connection.user_id,
                "since": since,
                "recovered": recovered,
                "seq": missed.latest_seq,
            },
        )

    def _refuse(self, membership: Membership, why: str) -> None:
        self.refusals += 1
        self._leave(membership)
        logger.info(
            "subscribe refused: %s",
            why,
            extra={"channel": membership.channel, "user_id": membership.connection.user_id},
        )
        _error(
            membership.connection,
            ChannelError.FORBIDDEN_CHANNEL,
            "not allowed in this channel",
            membership.channel,
        )

    def _unsubscribe(self, connection: Connection, channel: str) -> None:
        membership = self._sockets.get(connection, {}).get(channel)
        if membership is not None:
            self._leave(membership)
        _send(connection, ServerEvent.UNSUBSCRIBED, {"channel": channel})

    def _typing(self, connection: Connection, message: Typing) -> None:
        membership = self._sockets.get(connection, {}).get(message.channel)
        if membership is None or membership.parked is not None:
            _error(
                connection,
                ChannelError.NOT_SUBSCRIBED,
                "subscribe to the channel first",
                message.channel,
            )
            return
        if self.throttle.admit(connection.user_id, message.channel, message.state):
            signal = TypingSignal(
                channel=message.channel, user_id=connection.user_id, state=message.state
            )
            self.typing.publish(signal)

    # -- membership -------------------------------------------------------------------------

    def _join(self, connection: Connection, channel: str) -> Membership:
        membership = Membership(connection, channel)
        self._sockets.setdefault(connection, {})[channel] = membership
        self._members.setdefault(channel, {})[connection] = membership
        return membership

    def _leave(self, membership: Membership) -> None:
        channel, connection = membership.channel, membership.connection
        joined = self._sockets.get(connection)
        if joined is not None and joined.get(channel) is membership:
            del joined[channel]
        members = self._members.get(channel)
        if members is None or members.get(connection) is not membership:
            return
        del members[connection]
        if not members:
            del self._members[channel]
            self.bindings.release(channel)
        user_id = connection.user_id
        if (
            membership.parked is None
            and self.on_user_left is not None
            and not any(m.parked is None and c.user_id == user_id for c, m in members.items())
        ):
            self.on_user_left(user_id, channel)
        if not any(c.user_id == connection.user_id for c in members):
            self.throttle.forget(connection.user_id, channel)

    # -- broker messages --------------------------------------------------------------------

    @staticmethod
    def handles(routing_key: str) -> bool:
        return routing_key.startswith(_UPDATED_PREFIX) or routing_key.startswith(_TYPING_PREFIX)

    def on_broker_message(self, routing_key: str, body: bytes) -> None:
        """An `incident.updated` event or a typing signal → the channel's subscribers here.
        Raises UnusableMessage (or pydantic's ValidationError) for a body that does not fit."""
        if routing_key.startswith(_TYPING_PREFIX):
            self._on_typing(TypingSignal.model_validate_json(body))
            return
        envelope = EventEnvelope.model_validate_json(body)
        if envelope.type is not EventType.INCIDENT_UPDATED:
            raise UnusableMessage(f"{envelope.type} on a channel key")
        update = envelope.data_as(IncidentUpdated)
        members = self._members.get(update.channel)
        if not members:
            return
        outbound = _update_outbound(envelope.data, update.seq)
        for membership in list(members.values()):
            membership.deliver(outbound)

    def _on_typing(self, signal: TypingSignal) -> None:
        members = self._members.get(signal.channel)
        if not members:
            return
        notice = TypingNotice(user_id=signal.user_id, channel=signal.channel, state=signal.state)
        frame = render(ServerEvent.TYPING, notice.model_dump(mode="json"))
        outbound = Outbound(None, None, (frame,))
        for membership in list(members.values()):
            if membership.parked is None and membership.connection.user_id != signal.user_id:
                membership.deliver(outbound)


def _update_outbound(data: dict[str, Any], seq: int) -> Outbound:
    return Outbound(None, seq, (render(ServerEvent.INCIDENT_UPDATED, data),))


def _send(connection: Connection, event: ServerEvent, data: BaseModel | dict[str, Any]) -> None:
    body = data.model_dump(mode="json") if isinstance(data, BaseModel) else data
    connection.push(render(event, body))


def _error(
    connection: Connection, code: ChannelError, message: str, channel: str | None = None
) -> None:
    data = {"code": code.value, "message": message}
    if channel is not None:
        data["channel"] = channel
    connection.push(render(ServerEvent.ERROR, data))
