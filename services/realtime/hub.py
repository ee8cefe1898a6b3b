"""The connection manager: every socket of every user held by this instance.

The seed's API (`send_to_user`, `broadcast_to_users`, `broadcast_to_all`, `is_user_connected`,
`get_connected_users`, `broadcast_notification`, `broadcast_notification_to_users`,
`broadcast_stats_update`) sends to the sockets held here. To reach a user wherever their
sockets are, publish a `contracts.realtime.RealtimePush` on the broker instead: every instance
that holds a socket of that user turns it into a call of this hub.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from contracts.websocket import CloseCode, ServerEvent
from services.realtime.connection import Connection
from services.realtime.messages import Outbound, render

logger = logging.getLogger(__name__)

UserHook = Callable[[str], Awaitable[None] | None]


class TooManyConnections(Exception):
    """The user already holds the configured number of sockets on this instance."""


class SeqTrack:
    """A user's highest seq seen here from the first socket until the binding is dropped.

    `exact` once the event store's latest seq was recorded after the binding was in place:
    every later event arrives live, so the value stays the user's true latest seq until `forget`.
    """

    __slots__ = ("exact", "seq")

    def __init__(self) -> None:
        self.seq = 0
        self.exact = False


class Hub:
    """Sockets by user. `on_first`/`on_last` run when a user's first socket arrives / last
    socket leaves (the runtime tells presence there, and on the last socket starts the
    subscription's unbind grace; binding is the endpoint's, before the socket is told it is
    connected)."""

    def __init__(self, max_per_user: int) -> None:
        self.max_per_user = max_per_user
        self._users: dict[str, set[Connection]] = {}
        self._tracks: dict[str, SeqTrack] = {}
        self.on_first: Callable[[str], None] | None = None
        self.on_last: Callable[[str], None] | None = None
        self.connections_total = 0
        self.frames_queued = 0
        self.events_dispatched = 0
        self.slow_consumer_closes = 0

    # -- membership -------------------------------------------------------------------------

    def add(self, connection: Connection) -> bool:
        """Register a socket; True when it is the user's first on this instance.

        Raises TooManyConnections when the user is at the cap.
        """
        sockets = self._users.get(connection.user_id)
        if sockets is not None and len(sockets) >= self.max_per_user:
            raise TooManyConnections(connection.user_id)
        first = sockets is None
        if first:
            sockets = self._users[connection.user_id] = set()
            self._tracks.setdefault(connection.user_id, SeqTrack())
        assert sockets is not None
        sockets.add(connection)
        connection.on_closed = self.remove
        self.connections_total += 1
        if first and self.on_first is not None:
            self.on_first(connection.user_id)
        return first

    def remove(self, connection: Connection) -> None:
        sockets = self._users.get(connection.user_id)
        if sockets is None or connection not in sockets:
            return
        sockets.discard(connection)
        if connection.close_code == CloseCode.SLOW_CONSUMER:
            self.slow_consumer_closes += 1
        if not sockets:
            del self._users[connection.user_id]
            if self.on_last is not None:
                self.on_last(connection.user_id)

    def is_user_connected(self, user_id: str) -> bool:
        return user_id in self._users

    def get_connected_users(self) -> list[str]:
        return list(self._users)

    def connection_count(self) -> int:
        return sum(len(s) for s in self._users.values())

    def user_count(self) -> int:
        return len(self._users)

    def connections(self) -> list[Connection]:
        return [c for sockets in self._users.values() for c in sockets]

    def sockets_of(self, user_id: str) -> list[Connection]:
        return list(self._users.get(user_id, ()))

    def delivered_seq(self, user_id: str) -> int | None:
        """The highest seq of `user_id` this instance has received or sent to one of the user's
        sockets; None while none of them is past its handshake."""
        sockets = [c for c in self._users.get(user_id, ()) if c.catchup is None and not c.closed]
        if not sockets:
            return None
        return max(self.latest_seq(user_id), *(c.last_seq for c in sockets))

    def latest_seq(self, user_id: str) -> int:
        """The highest `seq` of `user_id` this instance has seen while holding the user."""
        track = self._tracks.get(user_id)
        return 0 if track is None else track.seq

    def track(self, user_id: str) -> SeqTrack:
        """The user's seq record (kept from the first socket until `forget`)."""
        return self._tracks.setdefault(user_id, SeqTrack())

    def record_latest(self, user_id: str, track: SeqTrack, latest: int) -> int:
        """Record the event store's latest seq, asked for after the binding was in place with
        `track` current. A live event that raced with the question leaves the higher value.
        Returns the user's latest seq."""
        if self._tracks.get(user_id) is not track:  # binding dropped meanwhile: not exact
            return max(latest, self.latest_seq(user_id))
        track.seq = max(track.seq, latest)
        track.exact = True
        return track.seq

    def forget(self, user_id: str) -> None:
        """The user's binding is being dropped: events stop arriving, the seq is no longer known."""
        self._tracks.pop(user_id, None)

    def forget_all(self) -> None:
        """Events may have been missed (the broker connection was lost)."""
        self._tracks.clear()

    # -- delivering broker messages ---------------------------------------------------------

    def dispatch(self, outbound: Outbound) -> int:
        """Queue an event's frames on the sockets it is for; returns frames queued."""
        self.events_dispatched += 1
        if outbound.user_id is None:
            return self._fan_out(self.connections(), outbound)
        if outbound.seq is not None:
            track = self._tracks.get(outbound.user_id)
            if track is not None and outbound.seq > track.seq:
                track.seq = outbound.seq
        sockets = self._users.get(outbound.user_id)
        if not sockets:
            return 0
        return self._fan_out(list(sockets), outbound)

    def _fan_out(self, sockets: Iterable[Connection], outbound: Outbound) -> int:
        queued = 0
        for connection in sockets:
            queued += connection.deliver(outbound)
        self.frames_queued += queued
        return queued

    # -- the seed's API ---------------------------------------------------------------------

    async def send_to_user(self, user_id: str, message: dict[str, Any]) -> int:
        """Send a message (`{"event", "data"[, "seq"]}`) to every socket of the user here."""
        return self.dispatch(_outbound(user_id, message))

    async def broadcast_to_users(self, user_ids: Iterable[str], message: dict[str, Any]) -> int:
        frame = _outbound(None, message).frames
        return sum(self.dispatch(Outbound(u, None, frame)) for u in user_ids)

    async def broadcast_to_all(self, message: dict[str, Any]) -> int:
        return self.dispatch(_outbound(None, message))

    async def broadcast_notification(
        self,
        user_id: str,
        notification_data: dict[str, Any],
        event_type: str = ServerEvent.NOTIFICATION_NEW,
    ) -> int:
        return await self.send_to_user(user_id, {"event": event_type, "data": notification_data})

    async def broadcast_notification_to_users(
        self, user_ids: Iterable[str], notification_data: dict[str, Any]
    ) -> int:
        message = {"event": ServerEvent.NOTIFICATION_NEW, "data": notification_data}
        return await self.broadcast_to_users(user_ids, message)

    async def broadcast_stats_update(self, user_id: str, stats: dict[str, Any]) -> int:
        return await self.send_to_user(user_id, {"event": ServerEvent.STATS_UPDATED, "data": stats})


def _outbound(user_id: str | None, message: dict[str, Any]) -> Outbound:
    # Messages sent through the seed's API are shown with their seq but never dropped by it:
    # they are not part of the user's event stream.
    frame = render(str(message["event"]), message.get("data", {}), message.get("seq"))
    return Outbound(user_id, None, (frame,))
