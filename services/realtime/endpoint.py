"""The WebSocket endpoint `/api/v1/ws/notifications?token=<JWT>[&since=<seq>]` as a plain ASGI app.

Handshake: Origin check (refused with HTTP 403), accept, token check (4001/4002/4003),
per-user cap (4029), broker binding for the user, catch-up, `connection:established`, then the
receive loop. The socket talks to the ASGI server directly (no framework layer per frame).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import orjson

from contracts.events import SEQ_MAX
from contracts.timestamps import rfc3339
from contracts.websocket import ClientMessageType, CloseCode, ServerEvent
from identity import JwtSettings
from identity.tokens import ADMIN_SCOPE
from services.realtime.auth import Refused, authenticate, refresh, seconds_left
from services.realtime.catchup import CatchupClient, CatchupUnavailable
from services.realtime.channels import CHANNEL_MESSAGES, ChannelHub
from services.realtime.connection import Connection, Send
from services.realtime.hub import Hub, TooManyConnections
from services.realtime.messages import Outbound, UnusableMessage, from_envelope, render
from services.realtime.subscription import Subscription

logger = logging.getLogger(__name__)

Receive = Any


@dataclass
class Handshake:
    user_id: str
    recovered: bool
    seq: int
    replay: list[Outbound]


class SocketEndpoint:
    def __init__(
        self,
        hub: Hub,
        subscription: Subscription,
        catchup: CatchupClient,
        jwt: JwtSettings,
        origins: frozenset[str],
        max_buffer: int,
        channels: ChannelHub | None = None,
    ) -> None:
        self.hub = hub
        self.channels = channels
        self.subscription = subscription
        self.catchup = catchup
        self.jwt = jwt
        self.origins = origins
        self.max_buffer = max_buffer
        self.accepting = True
        self.refused = 0
        self.latest_seq_lookups = 0

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if (await receive())["type"] != "websocket.connect":
            return
        if not self._origin_allowed(scope) or not self.accepting:
            self.refused += 1
            await send({"type": "websocket.close", "code": CloseCode.FORBIDDEN_ORIGIN})
            return
        params = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        await send({"type": "websocket.accept"})
        try:
            claims = authenticate(_first(params, "token"), self.jwt)
        except Refused as refusal:
            self.refused += 1
            await _close(send, refusal.code, refusal.reason)
            return
        connection = Connection(claims.user_id, send, self.max_buffer)
        connection.catchup = []  # park live events until connection:established is out
        try:
            self.hub.add(connection)
        except TooManyConnections:
            self.refused += 1
            await _close(send, CloseCode.TOO_MANY_CONNECTIONS, "too many connections for user")
            return
        connection.release_handshake()
        if self.channels is not None:
            self.channels.admit(connection, claims.has_scope(ADMIN_SCOPE))
        since, ttl = _since(params), seconds_left(claims)
        del params, claims, scope  # an idle socket keeps only what it needs
        try:
            await self._open(connection, since, ttl)
            await self._receive_loop(connection, receive)
        finally:
            connection.mark_disconnected()
            if self.channels is not None:
                self.channels.drop(connection)

    def _origin_allowed(self, scope: dict[str, Any]) -> bool:
        if not self.origins or "*" in self.origins:
            return True
        for name, value in scope.get("headers", ()):
            if name == b"origin":
                return value.decode("latin-1").rstrip("/") in self.origins
        return True  # not a browser

    async def _open(self, connection: Connection, since: int | None, ttl: float | None) -> None:
        user_id = connection.user_id
        try:
            await self.subscription.acquire(user_id)
        except Exception:
            logger.exception("binding failed", extra={"user_id": user_id})
            connection.close(CloseCode.SERVICE_RESTART, "broker unavailable")
            return
        if ttl is not None:
            connection.expire_at(asyncio.get_running_loop().time() + max(ttl, 0.0))
        handshake = await self._catch_up(user_id, since)
        established = {
            "user_id": user_id,
            "timestamp": rfc3339(datetime.now(UTC)),
            "message": "Connected to notification service",
            "recovered": handshake.recovered,
            "seq": handshake.seq,
        }
        connection.push(render(ServerEvent.CONNECTION_ESTABLISHED, established))
        parked = connection.catchup or []
        connection.catchup = None
        # Live events are compared with the last seq sent: the client's `since` when it is
        # replayed from, else the store's position told in the handshake.
        connection.last_seq = (since or 0) if handshake.recovered else handshake.seq
        for outbound in handshake.replay:
            connection.deliver(outbound)
        connection.last_seq = max(connection.last_seq, handshake.seq)
        for outbound in parked:
            connection.deliver(outbound)
        logger.info(
            "connected",
            extra={
                "user_id": user_id,
                "since": since,
                "recovered": handshake.recovered,
                "seq": handshake.seq,
                "replayed": len(handshake.replay),
            },
        )

    async def _catch_up(self, user_id: str, since: int | None) -> Handshake:
        if since is None:
            return Handshake(user_id, True, await self._latest_seq(user_id), [])
        try:
            missed = await self.catchup.missed(user_id, since)
        except CatchupUnavailable as exc:
            logger.warning("catch-up unavailable: %s", exc, extra={"user_id": user_id})
            return Handshake(user_id, False, max(since, self.hub.latest_seq(user_id)), [])
        if not missed.complete or since > missed.latest_seq:
            # Too far behind to replay, or ahead of the store (a seq from another database or
            # made up): either way the client must reload, from the store's true position.
            return Handshake(user_id, False, missed.latest_seq, [])
        replay: list[Outbound] = []
        for envelope in missed.events:
            try:
                outbound = from_envelope(envelope)
            except UnusableMessage:
                logger.warning(
                    "unusable event", extra={"event_id": envelope.event_id, "user_id": user_id}
                )
                continue
            if outbound is not None and envelope.user_id == user_id:
                replay.append(outbound)
        last = max([since, *(o.seq or 0 for o in replay)])
        return Handshake(user_id, True, max(last, missed.latest_seq), replay)

    async def _latest_seq(self, user_id: str) -> int:
        """The user's latest seq for a connection without `since`: asked of the event store, so
        that a fresh instance does not say 0 (a client that drops before any event would then
        reconnect with `since=0` and get old events replayed as new). The user's binding is in
        place, so every event after it arrives live: once the store's answer is recorded in the
        hub, the hub's value stays exact until the binding is dropped, and further tabs and
        reconnects within the grace period are answered without asking. When the notification
        service cannot be asked, this instance's own value (0 if it saw none) keeps the socket
        usable."""
        track = self.hub.track(user_id)
        if track.exact:
            return track.seq
        self.latest_seq_lookups += 1
        try:
            latest = await self.catchup.latest_seq(user_id, track.seq)
        except CatchupUnavailable as exc:
            known = self.hub.latest_seq(user_id)
            logger.warning(
                "latest seq unavailable, using %d: %s", known, exc, extra={"user_id": user_id}
            )
            return known
        return self.hub.record_latest(user_id, track, latest)

    async def _receive_loop(self, connection: Connection, receive: Receive) -> None:
        while True:
            message = await receive()
            kind = message["type"]
            if kind == "websocket.disconnect":
                return
            if kind != "websocket.receive" or connection.closed:
                continue
            text = message.get("text")
            if text is None:
                _error(connection, "binary_not_supported", "send JSON text frames")
                continue
            self._on_text(connection, text)

    def _on_text(self, connection: Connection, text: str) -> None:
        try:
            payload = orjson.loads(text)
        except orjson.JSONDecodeError:
            _error(connection, "invalid_json", "frames must be JSON objects")
            return
        kind = payload.get("type") if isinstance(payload, dict) else None
        if kind == ClientMessageType.PING:
            connection.push(render(ServerEvent.PONG, {}))
        elif kind == ClientMessageType.AUTH:
            self._on_auth(connection, payload.get("token"))
        elif kind in CHANNEL_MESSAGES and self.channels is not None:
            self.channels.on_message(connection, payload)
        else:
            _error(
                connection,
                "unknown_type",
                "supported types: ping, auth, subscribe, unsubscribe, typing",
            )

    def _on_auth(self, connection: Connection, token: object) -> None:
        try:
            new_token = token if isinstance(token, str) else None
            claims = refresh(new_token, connection.user_id, self.jwt)
        except Refused as refusal:
            if refusal.code == CloseCode.INVALID_PAYLOAD:
                connection.close(refusal.code, refusal.reason)
            else:
                _error(connection, "invalid_token", refusal.reason)
            return
        ttl = seconds_left(claims)
        if ttl is not None:  # a token without `exp` (JWT_REQUIRE_EXP=false) keeps the old expiry
            connection.expire_at(asyncio.get_running_loop().time() + ttl)


def _error(connection: Connection, code: str, message: str) -> None:
    connection.push(render(ServerEvent.ERROR, {"code": code, "message": message}))


async def _close(send: Send, code: int, reason: str) -> None:
    try:
        await send({"type": "websocket.close", "code": int(code), "reason": reason})
    except Exception:
        logger.debug("peer left before the close", exc_info=True)


def _first(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[0] if values else None


def _since(params: dict[str, list[str]]) -> int | None:
    raw = _first(params, "since")
    if raw is None or not (raw.isascii() and raw.isdigit()):
        return None
    return min(int(raw[:20]), SEQ_MAX)  # past any real seq either way: not recovered
