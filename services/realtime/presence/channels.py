"""Channel presence: who is in a channel, and `presence:*` events to subscribers who asked.

Every socket subscribed to a channel makes its user a member. The channel hub tells this module
when a user's first subscription to a channel opens on this instance (`joined`) and when their
last one here ends (`left`); the tracker writes them (a leave after the leave delay, cancelled
by a new subscription meanwhile). The store reports cluster-wide transitions only (a user's
first instance in, last instance out, or a dead instance swept), and whichever instance saw
one publishes it; every instance with subscribers of the channel sends it on as
`presence:join` / `presence:leave` to the subscriptions made with `"presence": true`. Those
first get `presence:members`, the store's member list read after the subscription opened.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from contracts.presence import (
    PRESENCE_SIGNAL,
    ChannelPresence,
    PresenceAction,
    PresenceChange,
)
from contracts.websocket import ServerEvent
from services.realtime.connection import Connection
from services.realtime.messages import render
from services.realtime.presence.relay import PresenceRelay
from services.realtime.presence.service import Presence
from services.realtime.presence.store import Membership, PresenceUnavailable

logger = logging.getLogger(__name__)

_SIGNAL_PREFIX = f"{PRESENCE_SIGNAL}."

Watchers = Callable[[str], list[Connection]]
"""The sockets here subscribed to a channel with `"presence": true`."""


class ChannelPresenceHub:
    def __init__(self, presence: Presence, relay: PresenceRelay, watchers: Watchers) -> None:
        self.presence = presence
        self.relay = relay
        self.watchers = watchers
        self._snapshots: set[asyncio.Task[None]] = set()
        presence.tracker.on_change = self.on_change

    # -- from the channel hub ---------------------------------------------------------------

    def joined(self, connection: Connection, channel: str, wants_events: bool) -> None:
        """A subscription opened; `wants_events` when it was made with `"presence": true`."""
        self.presence.tracker.channel_joined(channel, connection.user_id)
        if wants_events:
            task = asyncio.get_running_loop().create_task(self._send_members(connection, channel))
            self._snapshots.add(task)
            task.add_done_callback(self._snapshots.discard)

    def left(self, user_id: str, channel: str) -> None:
        """The user's last subscription to the channel on this instance ended."""
        self.presence.tracker.channel_left(channel, user_id)

    async def _send_members(self, connection: Connection, channel: str) -> None:
        try:
            members = await self.presence.channel_members(channel)
        except PresenceUnavailable as exc:
            logger.warning("presence members unavailable: %s", exc, extra={"channel": channel})
            return
        if not connection.closed:
            data = ChannelPresence(channel=channel, user_ids=members).model_dump(mode="json")
            connection.push(render(ServerEvent.PRESENCE_MEMBERS, data))

    # -- cluster-wide changes ---------------------------------------------------------------

    def on_change(self, joined: list[Membership], left: list[Membership]) -> None:
        for membership, action in [(m, PresenceAction.JOIN) for m in joined] + [
            (m, PresenceAction.LEAVE) for m in left
        ]:
            self.relay.publish(
                PresenceChange(
                    channel=membership.channel, user_id=membership.user_id, action=action
                )
            )

    @staticmethod
    def handles(routing_key: str) -> bool:
        return routing_key.startswith(_SIGNAL_PREFIX)

    def on_signal(self, body: bytes) -> None:
        """A change from any instance → this instance's watchers of the channel. Raises
        pydantic's ValidationError for a body that does not fit."""
        change = PresenceChange.model_validate_json(body)
        watchers = self.watchers(change.channel)
        if not watchers:
            return
        event = (
            ServerEvent.PRESENCE_JOIN
            if change.action is PresenceAction.JOIN
            else ServerEvent.PRESENCE_LEAVE
        )
        frame = render(event, change.model_dump(mode="json"))
        for connection in watchers:
            connection.push(frame)

    async def close(self) -> None:
        for task in list(self._snapshots):
            task.cancel()
