"""Counters and seq stay exact under any interleaving of concurrent operations."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

import asyncpg
import httpx

from tests.support.users import new_user

CREATE = "/api/v1/notifications"
PRIORITIES = ("low", "normal", "high", "critical")


async def counted(database_url: str, user: str) -> dict[str, object]:
    conn = await asyncpg.connect(database_url)
    try:
        row = await conn.fetchrow(
            """
            SELECT count(*) AS total,
                   count(*) FILTER (WHERE NOT is_read) AS unread,
                   count(*) FILTER (WHERE NOT is_read AND priority = 'low') AS low,
                   count(*) FILTER (WHERE NOT is_read AND priority = 'normal') AS normal,
                   count(*) FILTER (WHERE NOT is_read AND priority = 'high') AS high,
                   count(*) FILTER (WHERE NOT is_read AND priority = 'critical') AS critical
            FROM notification.notifications WHERE user_id = $1
            """,
            user,
        )
        seqs = [
            r["seq"]
            for r in await conn.fetch(
                "SELECT seq FROM notification.events WHERE user_id = $1 ORDER BY seq", user
            )
        ]
    finally:
        await conn.close()
    assert row is not None
    return {
        "total": row["total"],
        "unread": row["unread"],
        "unread_by_priority": {p: row[p] for p in PRIORITIES},
        "seqs": seqs,
    }


async def test_counters_equal_a_fresh_count_after_concurrent_operations(
    client: httpx.AsyncClient,
    service_headers: dict[str, str],
    user_token: Callable[[str], dict[str, str]],
    database_url: str,
) -> None:
    users = [new_user(), new_user()]
    tokens = {u: user_token(u) for u in users}
    rng = random.Random(7)
    ids: dict[str, list[str]] = {u: [] for u in users}

    async def create(batch: bool) -> None:
        recipients = users if batch else [rng.choice(users)]
        r = await client.post(
            CREATE,
            json={
                "recipients": recipients,
                "type": "incident_created",
                "title": "t",
                "priority": rng.choice(PRIORITIES),
            },
            headers=service_headers,
        )
        assert r.status_code == 201, r.text
        for item in r.json()["notifications"]:
            ids[item["user_id"]].append(item["id"])

    for _ in range(10):
        await create(batch=True)

    async def random_op() -> None:
        user = rng.choice(users)
        choice = rng.random()
        target = rng.choice(ids[user]) if ids[user] else "00000000-0000-0000-0000-000000000000"
        headers = tokens[user]
        if choice < 0.25:
            await create(batch=rng.random() < 0.5)
        elif choice < 0.5:
            r = await client.post(f"{CREATE}/{target}/read", headers=headers)
            assert r.status_code in (200, 404), r.text
        elif choice < 0.7:
            r = await client.post(f"{CREATE}/{target}/unread", headers=headers)
            assert r.status_code in (200, 404), r.text
        elif choice < 0.85:
            r = await client.delete(f"{CREATE}/{target}", headers=headers)
            assert r.status_code in (204, 404), r.text
        else:
            r = await client.post(f"{CREATE}/read-all", headers=headers)
            assert r.status_code == 200, r.text

    for _ in range(6):
        await asyncio.gather(*(random_op() for _ in range(25)))

    for user in users:
        stats = (await client.get(f"{CREATE}/stats", headers=tokens[user])).json()
        truth = await counted(database_url, user)
        seqs = truth.pop("seqs")
        assert stats == truth
        assert seqs == list(range(1, len(seqs) + 1)), "seq must be gap-free from 1"


async def test_a_catch_up_page_and_its_latest_seq_come_from_one_moment(
    client: httpx.AsyncClient, service_headers: dict[str, str]
) -> None:
    """The realtime service trusts `latest_seq` of a complete page to be the last event in it:
    it drops live copies at or below it. A page read while creates commit must never name a
    latest seq that its events do not reach, or the event in between is lost to the client."""
    user = new_user()
    url = f"/api/v1/internal/users/{user}/events"
    writing = True

    async def write() -> None:
        while writing:
            response = await client.post(
                CREATE,
                json={"recipients": [user], "type": "incident_created", "title": "t"},
                headers=service_headers,
            )
            assert response.status_code == 201

    writers = [asyncio.create_task(write()) for _ in range(4)]
    try:
        torn = []
        for _ in range(300):
            page = (await client.get(url, params={"after_seq": 0}, headers=service_headers)).json()
            reached = page["events"][-1]["seq"] if page["events"] else 0
            if page["complete"] and page["latest_seq"] != reached:
                torn.append((reached, page["latest_seq"]))
        assert not torn, f"pages whose latest_seq is past their last event: {torn[:5]}"
    finally:
        writing = False
        await asyncio.gather(*writers)
