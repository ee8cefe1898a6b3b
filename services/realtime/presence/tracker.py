"""One instance's side of presence: what it holds, written to the store in batches.

The hub tells the tracker when a user's first socket arrives and last socket leaves here, and
(with channels) when a socket joins or leaves a channel. These calls never wait: they change
the tracker's wanted state and wake one writer task, which sends every change gathered since
its last round trip in one script call, so a burst of connections costs a few round trips,
not one each. A leave is applied only after `leave_delay_s` (a page reload does not flap).

A heartbeat every `heartbeat_s` renews the instance's registration. When a write fails, or the
store does not know the instance any more (Redis restarted empty, or it swept this instance
as dead after a long pause), the tracker sends its whole state: a live socket is never left
marked offline for longer than about one heartbeat after the store answers again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from services.realtime.presence.store import (
    Delta,
    Membership,
    PresenceStore,
    PresenceUnavailable,
)

logger = logging.getLogger(__name__)

ChangeHook = Callable[[list[Membership], list[Membership]], None]
"""Called with (joined, left) channel memberships, cluster-wide transitions only."""


class PresenceTracker:
    def __init__(
        self,
        store: PresenceStore,
        instance_id: str,
        heartbeat_s: float,
        leave_delay_s: float,
    ) -> None:
        self.store = store
        self.instance_id = instance_id
        self.heartbeat_s = heartbeat_s
        self.leave_delay_s = leave_delay_s
        self.on_change: ChangeHook | None = None
        self.errors = 0
        self.writes = 0
        self.online_count: int | None = None
        """Users online cluster-wide, as of this instance's last write or heartbeat."""
        self._users: set[str] = set()
        self._members: set[Membership] = set()
        self._users_delta: dict[str, bool] = {}
        self._members_delta: dict[Membership, bool] = {}
        self._leaving: dict[str | Membership, asyncio.TimerHandle] = {}
        self._full = True  # the first write registers the instance with its whole state
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # -- what the instance holds (called by the hub; never waits) ---------------------------

    def user_connected(self, user_id: str) -> None:
        self._cancel_leave(user_id)
        if user_id not in self._users:
            self._users.add(user_id)
            self._users_delta[user_id] = True
            self._wake.set()

    def user_disconnected(self, user_id: str) -> None:
        self._later(user_id, lambda: self._user_gone(user_id))

    def channel_joined(self, channel: str, user_id: str) -> None:
        membership = Membership(channel, user_id)
        self._cancel_leave(membership)
        if membership not in self._members:
            self._members.add(membership)
            self._members_delta[membership] = True
            self._wake.set()

    def channel_left(self, channel: str, user_id: str) -> None:
        membership = Membership(channel, user_id)
        self._later(membership, lambda: self._membership_gone(membership))

    def is_held(self, user_id: str) -> bool:
        return user_id in self._users

    # -- leave delay -------------------------------------------------------------------------

    def _later(self, key: str | Membership, leave: Callable[[], None]) -> None:
        self._cancel_leave(key)
        if self.leave_delay_s <= 0:
            leave()
            return
        loop = asyncio.get_running_loop()
        self._leaving[key] = loop.call_later(self.leave_delay_s, self._leave_now, key, leave)

    def _leave_now(self, key: str | Membership, leave: Callable[[], None]) -> None:
        self._leaving.pop(key, None)
        leave()

    def _cancel_leave(self, key: str | Membership) -> None:
        handle = self._leaving.pop(key, None)
        if handle is not None:
            handle.cancel()

    def _user_gone(self, user_id: str) -> None:
        if user_id in self._users:
            self._users.discard(user_id)
            self._users_delta[user_id] = False
            self._wake.set()

    def _membership_gone(self, membership: Membership) -> None:
        if membership in self._members:
            self._members.discard(membership)
            self._members_delta[membership] = False
            self._wake.set()

    # -- writing -----------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"presence-{self.instance_id}")

    async def close(self) -> None:
        """Stop writing and remove this instance from the store (best effort)."""
        for handle in self._leaving.values():
            handle.cancel()
        self._leaving.clear()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        try:
            left = await self.store.remove_instance(self.instance_id)
        except PresenceUnavailable as exc:
            logger.warning("presence: could not deregister instance: %s", exc)
            return
        self.report([], left)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_beat = loop.time()
        while True:
            timeout = max(next_beat - loop.time(), 0.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
            self._wake.clear()
            ok = await self._write()
            if ok:
                next_beat = loop.time() + self.heartbeat_s
            else:
                next_beat = loop.time() + min(self.heartbeat_s, 1.0)  # retry soon
                await asyncio.sleep(min(self.heartbeat_s, 1.0) / 4)

    async def _write(self) -> bool:
        """One round trip: the pending changes (or the full state), which is also a heartbeat."""
        full = self._full
        delta = self._take()
        try:
            result = await self.store.sync(self.instance_id, delta, full=full)
            if not result.accepted:
                logger.warning("presence: store does not know this instance; sending full state")
                self._full = True
                result = await self.store.sync(self.instance_id, self._take(), full=True)
        except PresenceUnavailable as exc:
            self.errors += 1
            self._full = True
            logger.warning("presence store write failed (%d so far): %s", self.errors, exc)
            return False
        self.writes += 1
        self._full = False
        self.online_count = result.online_count
        self.report(result.joined, result.left)
        return True

    def _take(self) -> Delta:
        if self._full:
            self._users_delta.clear()
            self._members_delta.clear()
            return Delta(users_online=sorted(self._users), joined=sorted(self._members, key=_order))
        delta = Delta(
            users_online=[u for u, on in self._users_delta.items() if on],
            users_offline=[u for u, on in self._users_delta.items() if not on],
            joined=[m for m, on in self._members_delta.items() if on],
            left=[m for m, on in self._members_delta.items() if not on],
        )
        self._users_delta.clear()
        self._members_delta.clear()
        return delta

    def report(self, joined: list[Membership], left: list[Membership]) -> None:
        """Hand cluster-wide channel joins and leaves (from this instance's writes, or from a
        sweep any of its reads did) to the change hook."""
        if (joined or left) and self.on_change is not None:
            try:
                self.on_change(joined, left)
            except Exception:
                logger.exception("presence change hook failed")


def _order(membership: Membership) -> tuple[str, str]:
    return membership.channel, membership.user_id
