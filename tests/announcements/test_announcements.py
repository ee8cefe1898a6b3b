"""Announcements reach every known user, or just the listed ones, as normal notifications.

These tests use a database of their own: "every known user" of the shared test database would
reach the users of every other test.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from identity import JwtSettings, mint_token
from identity.tokens import WRITE_SCOPE
from services.notification.app import create_app
from services.notification.settings import Settings
from tests.support.databases import migrated_database
from tests.support.in_process import serving
from tests.support.users import new_user

JWT = JwtSettings(secret="announcement-test-secret")


@pytest.fixture(scope="module")
def own_database(postgres_server_url: str) -> Iterator[str]:
    with migrated_database(postgres_server_url, prefix="tocsin_test_announce") as url:
        yield url


@pytest.fixture
async def client(own_database: str, amqp_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        database_url=own_database,
        amqp_url=amqp_url,
        jwt_secret=JWT.secret,
        db_pool_size=4,
    )
    app = create_app(settings, workers=[])
    async with serving(app, "http://n.test") as c:
        yield c


def service_headers(scopes: list[str] | None = None) -> dict[str, str]:
    token = mint_token(JWT, f"svc-{uuid.uuid4().hex[:8]}", scopes=scopes or [WRITE_SCOPE])
    return {"Authorization": f"Bearer {token}"}


def user_headers(user_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(JWT, user_id)}"}


async def notifications_of(client: httpx.AsyncClient, user_id: str) -> list[dict[str, object]]:
    response = await client.get("/api/v1/notifications", headers=user_headers(user_id))
    assert response.status_code == 200, response.text
    items: list[dict[str, object]] = response.json()["items"]
    return items


async def test_an_announcement_without_recipients_reaches_every_known_user(
    client: httpx.AsyncClient,
) -> None:
    before = await client.post(
        "/api/v1/announcements", json={"title": "Warm-up"}, headers=service_headers()
    )
    assert before.status_code == 201, before.text
    known_before = before.json()["count"]
    subscribed = [new_user("sub") for _ in range(3)]
    for user_id in subscribed:
        response = await client.put(
            f"/api/v1/subscribers/{user_id}",
            json={"email": f"{user_id}@example.com", "name": user_id},
            headers=service_headers(),
        )
        assert response.status_code == 200, response.text
    title = f"Maintenance tonight {uuid.uuid4().hex[:6]}"

    response = await client.post(
        "/api/v1/announcements",
        json={"title": title, "message": "22:00-23:00 UTC", "priority": "high"},
        headers=service_headers(),
    )

    assert response.status_code == 201, response.text
    assert response.json()["audience"] == "all"
    assert response.json()["count"] == known_before + len(subscribed)
    for user_id in subscribed:
        items = await notifications_of(client, user_id)
        assert [(i["type"], i["title"], i["priority"]) for i in items] == [
            ("announcement", title, "high")
        ]
    # a user known only by their notifications (no subscriber record) is known too
    listed_only = new_user("stream")
    await client.post(
        "/api/v1/announcements",
        json={"recipients": [listed_only], "title": "Welcome"},
        headers=service_headers(),
    )
    again = await client.post(
        "/api/v1/announcements", json={"title": "Again"}, headers=service_headers()
    )
    assert again.json()["count"] == known_before + len(subscribed) + 1
    assert [i["title"] for i in await notifications_of(client, listed_only)] == [
        "Again",
        "Welcome",
    ]


async def test_an_announcement_to_a_list_reaches_only_the_listed_users(
    client: httpx.AsyncClient,
) -> None:
    listed = [new_user("listed") for _ in range(2)]
    bystander = new_user("bystander")
    await client.put(f"/api/v1/subscribers/{bystander}", json={}, headers=service_headers())

    response = await client.post(
        "/api/v1/announcements",
        json={"recipients": [*listed, listed[0]], "title": "Team offsite", "type": "team_news"},
        headers=service_headers(),
    )

    assert response.status_code == 201, response.text
    assert response.json() == {"audience": "list", "count": 2, "batches": 1}
    for user_id in listed:
        assert [i["type"] for i in await notifications_of(client, user_id)] == ["team_news"]
    assert await notifications_of(client, bystander) == []


async def test_repeating_an_announcement_with_its_idempotency_key_creates_nothing_twice(
    client: httpx.AsyncClient,
) -> None:
    user_id = new_user("idem")
    headers = {**service_headers(), "Idempotency-Key": uuid.uuid4().hex}
    body = {"recipients": [user_id], "title": "Once only"}
    first = await client.post("/api/v1/announcements", json=body, headers=headers)
    again = await client.post("/api/v1/announcements", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert len(await notifications_of(client, user_id)) == 1
    other = await client.post(
        "/api/v1/announcements", json={**body, "title": "Changed"}, headers=headers
    )
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        ({}, {"title": "x"}, 401),
        ("user", {"title": "x"}, 403),
        ("service", {"title": ""}, 422),
        ("service", {"title": "x", "recipients": []}, 422),
        ("service", {"title": "x", "priority": "loud"}, 422),
        ("service", {"title": "x", "surprise": 1}, 422),
    ],
)
async def test_bad_announcement_requests_get_a_json_error(
    client: httpx.AsyncClient, headers: object, body: dict[str, object], status: int
) -> None:
    chosen = {
        "user": user_headers("someone"),
        "service": service_headers(),
    }.get(headers if isinstance(headers, str) else "", {})
    response = await client.post("/api/v1/announcements", json=body, headers=chosen)
    assert response.status_code == status, response.text
    assert isinstance(response.json()["error"]["code"], str)
