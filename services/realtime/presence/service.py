"""Presence as the realtime service uses it: the store for reads, the tracker for this
instance's writes, built from settings in the app's lifespan."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import TypeVar

from contracts.presence import PresenceKeys
from services.realtime.presence.store import Membership, PresenceStore, PresenceUnavailable
from services.realtime.presence.tracker import PresenceTracker

T = TypeVar("T")


class Presence:
    """Reads sweep dead instances on the way (one script call); the channel memberships such a
    sweep ends are reported through the tracker's change hook, like every other leave."""

    def __init__(self, store: PresenceStore, tracker: PresenceTracker) -> None:
        self.store = store
        self.tracker = tracker
        self.read_errors = 0

    @classmethod
    def connect(
        cls,
        redis_url: str,
        prefix: str,
        instance_id: str,
        *,
        heartbeat_s: float,
        dead_after_s: float,
        leave_delay_s: float,
    ) -> Presence:
        store = PresenceStore.from_url(redis_url, PresenceKeys(prefix), dead_after_s)
        return cls(store, PresenceTracker(store, instance_id, heartbeat_s, leave_delay_s))

    @property
    def errors(self) -> int:
        """Failed store calls, writes and reads."""
        return self.tracker.errors + self.read_errors

    async def users_online(self, user_ids: Sequence[str]) -> dict[str, bool]:
        """Raises PresenceUnavailable when the store does not answer (as do the reads below)."""
        return await self._read(self.store.users_online(user_ids))

    async def online_users(self) -> list[str]:
        return await self._read(self.store.online_users())

    async def channel_members(self, channel: str) -> list[str]:
        return await self._read(self.store.channel_members(channel))

    async def _read(self, call: Awaitable[tuple[T, list[Membership]]]) -> T:
        try:
            value, left = await call
        except PresenceUnavailable:
            self.read_errors += 1
            raise
        self.tracker.report([], left)
        return value

    def start(self) -> None:
        self.tracker.start()

    async def close(self) -> None:
        await self.tracker.close()
        await self.store.close()
