"""Group commit of creates: shared statements, but each request keeps its own outcome."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.notifications import Priority
from database.engine import create_engine
from services.notification.batching import CreateBatcher
from services.notification.store import Content
from tests.support.users import new_user


def content(title: str, priority: Priority = Priority.NORMAL) -> Content:
    return Content("incident_created", priority, title, "", None, None, None)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, pool_size=4)
    yield engine
    await engine.dispose()


async def test_concurrent_requests_for_the_same_users_all_commit_with_gap_free_seqs(
    engine: AsyncEngine,
) -> None:
    batcher = CreateBatcher(engine, max_rows=50, in_flight=2)
    users = [new_user() for _ in range(3)]
    now = datetime.now(UTC)
    requests = [(content(f"n{i}", list(Priority)[i % 4]), users[: 1 + i % 3]) for i in range(40)]
    try:
        results = await asyncio.gather(
            *(
                batcher.create(c, recipients, [str(uuid.uuid4()) for _ in recipients], now)
                for c, recipients in requests
            )
        )
    finally:
        await batcher.close()
    assert [len(r) for r in results] == [len(recipients) for _, recipients in requests]
    for user in users:
        seqs = sorted(c.seq for created in results for c in created if c.user_id == user)
        assert seqs == list(range(1, len(seqs) + 1))


async def test_a_failing_request_fails_alone_and_the_rest_of_its_batch_commits(
    engine: AsyncEngine,
) -> None:
    batcher = CreateBatcher(engine, in_flight=1)
    now = datetime.now(UTC)
    good_users = [new_user() for _ in range(5)]
    bad_user = new_user()
    try:
        outcomes = await asyncio.gather(
            *(batcher.create(content("fine"), [u], [str(uuid.uuid4())], now) for u in good_users),
            batcher.create(content("broken"), [bad_user], ["not-a-uuid"], now),
            return_exceptions=True,
        )
    finally:
        await batcher.close()
    assert all(isinstance(o, list) and len(o) == 1 for o in outcomes[:5]), outcomes
    assert isinstance(outcomes[5], Exception)
