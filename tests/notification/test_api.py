"""The REST API as users and services use it: idempotent creates, paging, preferences,
subscribers and the catch-up endpoint."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any

import httpx

from contracts.events import EventEnvelope
from services.notification.app import create_app
from services.notification.settings import Settings
from tests.support.in_process import serving
from tests.support.users import new_user
from tests.support.waiting import eventually

CREATE = "/api/v1/notifications"


def body(recipients: list[str], **overrides: Any) -> dict[str, Any]:
    return {"recipients": recipients, "type": "incident_assigned", "title": "Assigned", **overrides}


async def test_same_idempotency_key_and_body_returns_the_first_response_once(
    client: httpx.AsyncClient,
    service_headers: dict[str, str],
    user_token: Callable[[str], dict[str, str]],
) -> None:
    user = new_user()
    headers = {**service_headers, "Idempotency-Key": f"key-{user}"}
    first = await client.post(CREATE, json=body([user]), headers=headers)
    again = await client.post(CREATE, json=body([user]), headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    listed = await client.get("/api/v1/notifications", headers=user_token(user))
    assert len(listed.json()["items"]) == 1


async def test_same_idempotency_key_with_another_body_is_refused_with_409(
    client: httpx.AsyncClient, service_headers: dict[str, str]
) -> None:
    user = new_user()
    headers = {**service_headers, "Idempotency-Key": f"key-{user}"}
    assert (await client.post(CREATE, json=body([user]), headers=headers)).status_code == 201
    other = await client.post(CREATE, json=body([user], title="Different"), headers=headers)
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"


async def test_concurrent_requests_with_one_idempotency_key_create_once(
    client: httpx.AsyncClient,
    service_headers: dict[str, str],
    user_token: Callable[[str], dict[str, str]],
) -> None:
    user = new_user()
    headers = {**service_headers, "Idempotency-Key": f"race-{user}"}
    responses = await asyncio.gather(
        *(client.post(CREATE, json=body([user]), headers=headers) for _ in range(8))
    )
    assert {r.status_code for r in responses} == {201}
    assert all(r.json() == responses[0].json() for r in responses)
    stats = (await client.get("/api/v1/notifications/stats", headers=user_token(user))).json()
    assert stats["total"] == 1


async def test_pagination_visits_every_row_once_under_concurrent_inserts(
    client: httpx.AsyncClient,
    service_headers: dict[str, str],
    user_token: Callable[[str], dict[str, str]],
) -> None:
    user = new_user()
    me = user_token(user)
    existing = set()
    for i in range(45):
        r = await client.post(CREATE, json=body([user], title=f"n{i}"), headers=service_headers)
        existing.add(r.json()["notifications"][0]["id"])

    stop = asyncio.Event()

    async def keep_inserting() -> int:
        count = 0
        while not stop.is_set():
            await client.post(CREATE, json=body([user], title="late"), headers=service_headers)
            count += 1
        return count

    inserter = asyncio.create_task(keep_inserting())
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 7}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/api/v1/notifications", params=params, headers=me)).json()
        seen += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
        await asyncio.sleep(0.01)  # let inserts interleave with the paging
    stop.set()
    inserted_meanwhile = await inserter

    assert len(seen) == len(set(seen)), "a row was visited twice"
    assert existing <= set(seen), "a row that existed before paging was skipped"
    assert inserted_meanwhile > 0 and pages >= 7


async def test_list_filters_by_unread_type_and_priority(
    client: httpx.AsyncClient,
    service_headers: dict[str, str],
    user_token: Callable[[str], dict[str, str]],
) -> None:
    user = new_user()
    me = user_token(user)
    made = {}
    for name, extra in {
        "a": {"type": "incident_created", "priority": "high"},
        "b": {"type": "incident_created", "priority": "low"},
        "c": {"type": "incident_resolved", "priority": "high"},
    }.items():
        r = await client.post(
            CREATE, json=body([user], title=name, **extra), headers=service_headers
        )
        made[name] = r.json()["notifications"][0]["id"]
    await client.post(f"/api/v1/notifications/{made['a']}/read", headers=me)

    async def titles(query: str) -> list[str]:
        page = (await client.get(f"/api/v1/notifications?{query}", headers=me)).json()
        return sorted(item["title"] for item in page["items"])

    assert await titles("unread=true") == ["b", "c"]
    assert await titles("unread=false") == ["a"]
    assert await titles("type=incident_created") == ["a", "b"]
    assert await titles("priority=high") == ["a", "c"]
    assert await titles("priority=high&unread=true") == ["c"]
    item = (await client.get(f"/api/v1/notifications/{made['c']}", headers=me)).json()
    assert set(item) == {
        "id",
        "type",
        "priority",
        "title",
        "message",
        "entity_type",
        "entity_id",
        "entity_url",
        "is_read",
        "created_at",
        "deliveries",  # per-channel delivery status, see tests/deliveries
    }


async def test_preferences_and_subscriber_shape_the_created_event(
    client: httpx.AsyncClient,
    service_headers: dict[str, str],
    user_token: Callable[[str], dict[str, str]],
) -> None:
    user = new_user()
    me = user_token(user)
    defaults = (await client.get("/api/v1/preferences", headers=me)).json()
    assert defaults["preferences"] == []
    assert defaults["defaults"] == {
        "in_app": True,
        "email": True,
        "webhook": True,
        "push": True,
    }

    put = await client.put(
        "/api/v1/preferences",
        json={
            "preferences": [
                {"type": "*", "channel": "email", "enabled": False},
                {"type": "*", "channel": "in_app", "enabled": False},
                {"type": "incident_assigned", "channel": "webhook", "enabled": False},
                {"type": "incident_resolved", "channel": "email", "enabled": True},
            ]
        },
        headers=me,
    )
    assert put.status_code == 200, put.text
    assert len(put.json()["preferences"]) == 4
    subscriber = await client.put(
        f"/api/v1/subscribers/{user}",
        json={"email": "ada@example.com", "name": "Ada", "locale": "en-GB"},
        headers=service_headers,
    )
    assert subscriber.status_code == 200, subscriber.text

    await client.post(CREATE, json=body([user]), headers=service_headers)
    await client.post(CREATE, json=body([user], type="incident_resolved"), headers=service_headers)
    await client.post(CREATE, json=body([user], priority="critical"), headers=service_headers)

    page = (
        await client.get(
            f"/api/v1/internal/users/{user}/events?after_seq=0", headers=service_headers
        )
    ).json()
    created = [EventEnvelope.model_validate(e).data for e in page["events"]]
    assert [c["channels"] for c in created] == [
        ["push"],
        ["email", "webhook", "push"],
        ["in_app", "email", "push"],  # critical overrides in-app and email opt-outs
    ]
    assert created[0]["recipient"] == {
        "user_id": user,
        "email": "ada@example.com",
        "name": "Ada",
        "locale": "en-GB",
    }


async def test_catch_up_returns_ordered_events_after_seq_and_says_when_incomplete(
    client: httpx.AsyncClient,
    service_headers: dict[str, str],
) -> None:
    user = new_user()
    for i in range(7):
        await client.post(CREATE, json=body([user], title=f"n{i}"), headers=service_headers)
    url = f"/api/v1/internal/users/{user}/events"

    page = (
        await client.get(url, params={"after_seq": 2, "limit": 3}, headers=service_headers)
    ).json()
    assert [e["seq"] for e in page["events"]] == [3, 4, 5]
    assert page["complete"] is False
    assert page["latest_seq"] == 7
    envelope = EventEnvelope.model_validate(page["events"][0])
    assert envelope.data["notification"]["title"] == "n2"
    assert envelope.stats is not None and envelope.stats.total == 3

    rest = (
        await client.get(url, params={"after_seq": 5, "limit": 3}, headers=service_headers)
    ).json()
    assert [e["seq"] for e in rest["events"]] == [6, 7]
    assert rest["complete"] is True

    nothing = (await client.get(url, params={"after_seq": 7}, headers=service_headers)).json()
    assert nothing == {"events": [], "latest_seq": 7, "complete": True}
    stranger = (
        await client.get(f"/api/v1/internal/users/{new_user()}/events", headers=service_headers)
    ).json()
    assert stranger == {"events": [], "latest_seq": 0, "complete": True}


async def test_latest_seqs_answers_each_users_stream_position_and_zero_for_unknown_users(
    client: httpx.AsyncClient, service_headers: dict[str, str]
) -> None:
    users = [new_user() for _ in range(3)]
    for count, user in enumerate(users):
        for _ in range(count + 1):
            await client.post(CREATE, json=body([user]), headers=service_headers)
    stranger = new_user()
    response = await client.post(
        "/api/v1/internal/latest-seqs",
        json={"user_ids": [*users, stranger, users[0]]},
        headers=service_headers,
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"seqs": {users[0]: 1, users[1]: 2, users[2]: 3, stranger: 0}}
    for user in users:
        page = (
            await client.get(f"/api/v1/internal/users/{user}/events", headers=service_headers)
        ).json()
        assert response.json()["seqs"][user] == page["latest_seq"] == page["events"][-1]["seq"]


async def test_an_expired_idempotency_key_is_new_again_before_any_purge(
    settings: Settings, service_headers: dict[str, str], broker_cleanup: list[str]
) -> None:
    short_lived = settings.model_copy(update={"idempotency_key_ttl_s": 1})
    user = new_user()
    headers = {**service_headers, "Idempotency-Key": f"key-{user}"}
    async with serving(
        create_app(short_lived, workers=[]), "http://notification.test"
    ) as client:  # no purge worker
        first = await client.post(CREATE, json=body([user]), headers=headers)
        assert first.status_code == 201
        reuse = functools.partial(
            client.post, CREATE, json=body([user], title="Later"), headers=headers
        )
        later = await eventually(
            reuse,
            lambda response: response.status_code != 409,
            timeout=15,
            what="the key to expire",
        )
        assert later.status_code == 201, later.text
        assert later.json()["notifications"] != first.json()["notifications"]
