"""Coalescing latest-seq questions to the notification service.

Every socket without `since` whose user's seq this instance does not know needs the user's
latest seq from the event store. Asked one by one, each is an HTTP request and a query; here the
users asking while a request is in flight wait together and go in the next request (up to
`max_batch` users each), one request in flight at a time. Each waiter gets its own user's value.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from itertools import islice

logger = logging.getLogger(__name__)

Ask = Callable[[list[str]], Awaitable[dict[str, int]]]
"""Sends one batch: user ids → each user's latest seq; raises on failure."""
Failure = Callable[[str], Exception]
"""The exception each waiter of a failed batch gets, from the failure's description."""


class LatestSeqBatcher:
    def __init__(self, ask: Ask, max_batch: int, failure: Failure) -> None:
        self._ask = ask
        self._failure = failure
        self._max_batch = max_batch
        self._waiting: dict[str, list[asyncio.Future[int]]] = {}
        self._sender: asyncio.Task[None] | None = None
        self.requests = 0

    async def latest_seq(self, user_id: str) -> int:
        """The user's latest seq; raises `failure(...)` when the batch's request failed."""
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(user_id, []).append(future)
        if self._sender is None or self._sender.done():
            self._sender = asyncio.get_running_loop().create_task(self._send_all())
        return await future

    async def _send_all(self) -> None:
        while self._waiting:
            users = list(islice(self._waiting, self._max_batch))
            batch = {user_id: self._waiting.pop(user_id) for user_id in users}
            self.requests += 1
            try:
                seqs = await self._ask(users)
            except Exception as exc:
                logger.warning("latest seqs of %d users unavailable: %s", len(users), exc)
                for futures in batch.values():
                    for future in futures:
                        if not future.done():
                            future.set_exception(self._failure(str(exc)))
                continue
            for user_id, futures in batch.items():
                for future in futures:
                    if not future.done():
                        future.set_result(seqs.get(user_id, 0))

    async def close(self) -> None:
        if self._sender is not None and not self._sender.done():
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
        for futures in self._waiting.values():
            for future in futures:
                future.cancel()
        self._waiting.clear()
