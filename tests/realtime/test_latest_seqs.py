"""Latest-seq questions asked while a request is in flight go together in the next one."""

from __future__ import annotations

import asyncio

import pytest

from services.realtime.latest_seqs import LatestSeqBatcher


class Unavailable(Exception):
    pass


async def test_questions_asked_during_a_request_share_the_next_each_getting_its_value() -> None:
    sent: list[list[str]] = []
    release = asyncio.Event()

    async def ask(user_ids: list[str]) -> dict[str, int]:
        sent.append(user_ids)
        await release.wait()
        return {u: int(u.removeprefix("u")) for u in user_ids}

    batcher = LatestSeqBatcher(ask, max_batch=20, failure=Unavailable)
    first = asyncio.create_task(batcher.latest_seq("u0"))
    await asyncio.sleep(0)  # the first request is in flight
    others = [asyncio.create_task(batcher.latest_seq(f"u{i}")) for i in range(1, 31)]
    twice = asyncio.create_task(batcher.latest_seq("u7"))
    release.set()
    assert await first == 0
    assert await asyncio.gather(*others) == list(range(1, 31))
    assert await twice == 7
    assert sent == [["u0"], [f"u{i}" for i in range(1, 21)], [f"u{i}" for i in range(21, 31)]]
    await batcher.close()


async def test_a_failed_request_fails_only_its_own_waiters_and_the_next_one_is_sent() -> None:
    calls = 0

    async def ask(user_ids: list[str]) -> dict[str, int]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("notification service down")
        return dict.fromkeys(user_ids, 5)

    batcher = LatestSeqBatcher(ask, max_batch=10, failure=Unavailable)
    with pytest.raises(Unavailable, match="notification service down"):
        await batcher.latest_seq("a")
    assert await batcher.latest_seq("b") == 5
    await batcher.close()
