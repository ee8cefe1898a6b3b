"""Noticing a user whose events stopped arriving, and repairing it.

Every `interval_s` the instance asks the notification service for the latest seq of each user
it holds an open, established socket of (`POST /api/v1/internal/latest-seqs`, 1,000 users a
request), and compares the previous round's answer with what it has delivered since: an event
committed before the previous round and still not here a whole interval later is not coming
(the relay publishes within milliseconds; one that is an interval behind costs a needless
reconnect, never a lost or repeated event). Such a user is logged (`user_id`, `expected_seq`,
`seen_seq`), counted (`stalled`, the `tocsin_realtime_stalled_users_total` metric) and
repaired: its routing key is bound again and its sockets are closed with 1012, so that each
client reconnects with `since` and gets the missed events from the event store.

Each round first checks that the instance still consumes from its queue
(`Subscription.check_consuming`), which re-declares, consumes and binds again when not.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from contracts.websocket import CloseCode
from services.realtime.catchup import CatchupUnavailable
from services.realtime.hub import Hub
from services.realtime.subscription import Subscription

logger = logging.getLogger(__name__)

AskLatest = Callable[[list[str]], Awaitable[dict[str, int]]]
"""User ids → each user's latest seq in the event store; raises CatchupUnavailable."""


class SelfCheck:
    def __init__(
        self, hub: Hub, subscription: Subscription, ask_latest: AskLatest, interval_s: float
    ) -> None:
        self.hub = hub
        self.subscription = subscription
        self.interval_s = interval_s
        self._ask_latest = ask_latest
        self._expected: dict[str, int] = {}
        """Users who were behind the event store at the last round → its latest seq then."""
        self.rounds = 0
        self.stalled = 0

    async def run(self) -> None:
        """Check every `interval_s` until cancelled; a failed round is logged and skipped."""
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                async with asyncio.timeout(max(self.interval_s, 10.0)):
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
        stalled = [u for u, seq in seen.items() if self._expected.get(u, 0) > seq]
        for user_id in stalled:
            await self._repair(user_id, self._expected[user_id], seen[user_id])
        try:
            latest = await self._ask_latest([u for u in seen if u not in stalled])
        except CatchupUnavailable as exc:
            logger.warning("self-check: latest seqs unavailable: %s", exc)
            latest = {}
        self._expected = {u: seq for u, seq in latest.items() if seq > seen.get(u, 0)}
        return stalled

    async def _repair(self, user_id: str, expected: int, seen: int) -> None:
        self.stalled += 1
        logger.warning(
            "events stopped arriving for a user: binding again, closing its sockets to catch up",
            extra={"user_id": user_id, "expected_seq": expected, "seen_seq": seen},
        )
        try:
            await self.subscription.rebind(user_id)
        except Exception:
            logger.warning("binding again failed", extra={"user_id": user_id}, exc_info=True)
        for connection in self.hub.sockets_of(user_id):
            connection.close(CloseCode.SERVICE_RESTART, "events missed: catch up")
