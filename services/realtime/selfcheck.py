"""Noticing a user whose events stopped arriving, and repairing it.

Every `interval_s` the instance asks the notification service for the latest seq of each user
it holds an open, established socket of (`POST /api/v1/internal/latest-seqs`, 1,000 users a
request). A user still behind the previous round's answer, with none of its events arrived
since, is a candidate: either the relay is stuck or slow (under a burst it can be seconds
behind) or the user's events are not reaching this instance. To tell them apart it asks for
the user's first missing event (`GET /api/v1/internal/users/{id}/events?after_seq=<seen>&limit=1`)
and compares its event store position with the highest position this instance has received: the
relay publishes in
position order and the queue keeps that order, so when a later event of anyone arrived, the
user's is not coming. Only then is the user stalled: logged (`user_id`, `expected_seq`,
`seen_seq`, `missing_position`, `received_position`), counted (`stalled`, the
`tocsin_realtime_stalled_users_total` metric) and repaired: its routing key is bound again and
its sockets are closed with 1012, so that each client reconnects with `since` and gets the
missed events from the event store. A slow relay costs at most a question per frozen user
per round, never a reconnect.

Each round first checks that the instance still consumes from its queue
(`Subscription.check_consuming`), which re-declares, consumes and binds again when not.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from contracts.websocket import CloseCode
from services.realtime.catchup import CatchupClient, CatchupUnavailable
from services.realtime.hub import Hub
from services.realtime.subscription import Subscription

logger = logging.getLogger(__name__)

ROUND_TIMEOUT_S = 60.0

Position = Callable[[], int]
"""The highest event store position this instance has received."""


class SelfCheck:
    def __init__(
        self,
        hub: Hub,
        subscription: Subscription,
        store: CatchupClient,
        received_position: Position,
        interval_s: float,
    ) -> None:
        self.hub = hub
        self.subscription = subscription
        self.interval_s = interval_s
        self._store = store
        self._received_position = received_position
        self._expected: dict[str, tuple[int, int]] = {}
        """Users who were behind the event store at the last round → (its latest seq then,
        the seq this instance had delivered then)."""
        self.rounds = 0
        self.stalled = 0

    async def run(self) -> None:
        """Check every `interval_s` until cancelled; a failed round is logged and skipped."""
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                async with asyncio.timeout(max(self.interval_s, ROUND_TIMEOUT_S)):
                    await self.check()
            except Exception:
                logger.warning("self-check round failed", exc_info=True)

    async def check(self) -> list[str]:
        """One round; returns the users found stalled (and repaired)."""
        self.rounds += 1
        if not await self.subscription.check_consuming():
            self._expected.clear()  # every socket was just closed to catch up
            return []
        seen = {
            user_id: seq
            for user_id in self.hub.get_connected_users()
            if (seq := self.hub.delivered_seq(user_id)) is not None
        }
        behind = [u for u, seq in seen.items() if self._frozen(u, seq)]
        stalled = []
        for user_id in behind:
            if await self._stalled(user_id, self._expected[user_id][0], seen[user_id]):
                stalled.append(user_id)
        try:
            latest = await self._store.latest_seqs([u for u in seen if u not in stalled])
        except CatchupUnavailable as exc:
            logger.warning("self-check: latest seqs unavailable: %s", exc)
            latest = {}
        self._expected = {
            u: (seq, seen[u]) for u, seq in latest.items() if u in seen and seq > seen[u]
        }
        return stalled

    def _frozen(self, user_id: str, seen: int) -> bool:
        """Behind the previous round's answer, and nothing of the user arrived since it (a
        user whose events flow behind a slow relay is not asked about)."""
        expected = self._expected.get(user_id)
        return expected is not None and expected[0] > seen and expected[1] == seen

    async def _stalled(self, user_id: str, expected: int, seen: int) -> bool:
        """True (and repaired) when the user's first missing event is older than the newest
        event this instance has received."""
        received = self._received_position()
        # Read after `received`: an event older than it has either arrived by now or is lost.
        seen = self.hub.delivered_seq(user_id) or seen
        try:
            missing = await self._store.first_position_after(user_id, seen)
        except CatchupUnavailable as exc:
            logger.warning("self-check: events unavailable: %s", exc, extra={"user_id": user_id})
            return False
        if missing is None or missing >= received:
            return False  # not published yet, or nothing this instance saw came after it
        self.stalled += 1
        logger.warning(
            "events stopped arriving for a user: binding again, closing its sockets to catch up",
            extra={
                "user_id": user_id,
                "expected_seq": expected,
                "seen_seq": seen,
                "missing_position": missing,
                "received_position": received,
            },
        )
        await self._repair(user_id)
        return True

    async def _repair(self, user_id: str) -> None:
        try:
            await self.subscription.rebind(user_id)
        except Exception:
            logger.warning("binding again failed", extra={"user_id": user_id}, exc_info=True)
        for connection in self.hub.sockets_of(user_id):
            connection.close(CloseCode.SERVICE_RESTART, "events missed: catch up")
