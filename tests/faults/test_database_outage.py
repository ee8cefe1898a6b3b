"""Stop Postgres (a private cluster, with its own pg_ctl) under the running system: the API
answers 503 `database_unavailable` as JSON within its client's deadline, readiness goes red,
and everything works again, sockets included, once the database is back."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx

from tests.support.burst import open_tabs, socket_ids
from tests.support.system import PrivatePostgres, System, service_headers, user_headers
from tests.support.users import new_user
from tests.support.waiting import eventually

CLIENT_DEADLINE_S = 15.0
"""A request that gets no answer within this (the command timeout is 5 s) fails the test."""


def create_body(user: str, title: str) -> dict[str, object]:
    return {"recipients": [user], "type": "incident_created", "priority": "high", "title": title}


async def test_database_down_gives_503_json_red_readiness_and_recovers(
    private_postgres: PrivatePostgres, start_system: Callable[..., System]
) -> None:
    system = start_system(database_url=private_postgres.database_url, webhook_enabled=False)
    user = new_user("pg")
    [tab] = (await open_tabs(system, [user])).values()
    async with httpx.AsyncClient(base_url=system.api_url, timeout=CLIENT_DEADLINE_S) as api:
        before = await api.post(
            "/api/v1/notifications", json=create_body(user, "before"), headers=service_headers()
        )
        assert before.status_code == 201, before.text

        await asyncio.to_thread(private_postgres.stop)

        create = await api.post(
            "/api/v1/notifications", json=create_body(user, "during"), headers=service_headers()
        )
        assert create.status_code == 503, create.text
        assert create.json()["error"]["code"] == "database_unavailable"
        listing = await api.get("/api/v1/notifications", headers=user_headers(user))
        assert listing.status_code == 503, listing.text
        assert listing.json()["error"]["code"] == "database_unavailable"
        ready = await api.get("/readyz")
        assert ready.status_code == 503, ready.text
        assert "error" in ready.json()
        email_ready = await api.get(f"http://127.0.0.1:{system.ports['email']}/readyz")
        assert email_ready.status_code == 503, email_ready.text
        assert (await api.get("/healthz")).status_code == 200, "liveness must not follow the db"

        await asyncio.to_thread(private_postgres.start)

        await eventually(
            lambda: api.get("/readyz"),
            lambda r: r.status_code == 200,
            timeout=60,
            what="readiness green again",
        )
        after = await eventually(
            lambda: api.post(
                "/api/v1/notifications", json=create_body(user, "after"), headers=service_headers()
            ),
            lambda r: r.status_code == 201,
            timeout=60,
            what="creates accepted again",
        )
    ids = {before.json()["notifications"][0]["id"], after.json()["notifications"][0]["id"]}
    await eventually(
        lambda: set(socket_ids(tab)),
        lambda got: got >= ids,
        timeout=60,
        what="both accepted notifications on the socket",
    )
    titles = [m["data"]["title"] for m in tab.events("notification:new")]
    assert titles == ["before", "after"], "the refused create must never appear"
    await tab.connection.close()
