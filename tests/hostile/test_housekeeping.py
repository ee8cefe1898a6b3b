"""Housekeeping on real processes: idempotency keys expire and the API's worker purges them,
the API documentation can be switched off, and subscriber emails are checked where they enter."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import asyncpg
import httpx
import pytest

from database.engine import plain_url
from identity import JwtSettings
from tests.support.hostile_system import hostile
from tests.support.system import System
from tests.support.users import new_user
from tests.support.waiting import eventually


@pytest.fixture(scope="module")
def housekept_system(database_url: str, amqp_url: str, jwt_keys: JwtSettings) -> Iterator[System]:
    system = hostile(
        database_url,
        amqp_url,
        jwt_keys,
        notification_env={
            "IDEMPOTENCY_KEY_TTL_S": "1",
            "IDEMPOTENCY_PURGE_INTERVAL_S": "0.2",
            "DOCS_ENABLED": "false",
        },
        webhook_env={"WEBHOOK_ALLOWED_PRIVATE_TARGETS": "", "DOCS_ENABLED": "false"},
    )
    try:
        yield system.start()
    finally:
        system.stop()


async def stored_keys(database_url: str, key: str) -> int:
    connection = await asyncpg.connect(plain_url(database_url))
    try:
        count = await connection.fetchval(
            "SELECT count(*) FROM notification.idempotency_keys WHERE key = $1", key
        )
        return int(count)
    finally:
        await connection.close()


async def test_an_idempotency_key_expires_and_the_worker_purges_it(
    housekept_system: System,
) -> None:
    system = housekept_system
    key = f"key-{uuid.uuid4().hex}"
    first = {"recipients": [new_user()], "type": "invoice", "title": "first"}
    second = {**first, "title": "second"}
    headers = {**system.service_headers(), "Idempotency-Key": key}
    async with httpx.AsyncClient(base_url=system.api_url, timeout=10) as api:
        created = await api.post("/api/v1/notifications", json=first, headers=headers)
        assert created.status_code == 201, created.text
        assert await stored_keys(system.database_url, key) == 1
        # Nothing uses the key again: only the purge can remove it.
        await eventually(lambda: stored_keys(system.database_url, key), lambda n: n == 0,
                         timeout=30, what="the expired key to be purged")  # fmt: skip
        reused = await api.post("/api/v1/notifications", json=second, headers=headers)
        assert reused.status_code == 201, reused.text
        assert reused.json()["notifications"] != created.json()["notifications"]


async def test_the_api_documentation_can_be_switched_off(housekept_system: System) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        for base in (housekept_system.api_url, housekept_system.webhook_url):
            for path in ("/docs", "/redoc", "/openapi.json"):
                response = await http.get(f"{base}{path}")
                assert response.status_code == 404, (base, path, response.status_code)
                assert response.json()["error"]["code"] == "not_found", (base, path)


@pytest.mark.parametrize(
    "email",
    ["0@0", "a@b", "ada@127.0.0.1", "no-at-sign", "a..b@example.com", "ada@-example.com",
     "ada@exa mple.com", ".ada@example.com", "ada@", "@example.com", "ada@example..com"],
)  # fmt: skip
def test_undeliverable_subscriber_emails_get_422_invalid_email(
    housekept_system: System, email: str
) -> None:
    user = new_user()
    response = httpx.put(
        f"{housekept_system.api_url}/api/v1/subscribers/{user}",
        json={"email": email, "name": "Ada"},
        headers=housekept_system.service_headers(),
        timeout=10,
    )
    assert response.status_code == 422, (email, response.text)
    assert response.json()["error"]["code"] == "invalid_email", response.text


def test_deliverable_subscriber_emails_are_stored_with_an_ascii_domain(
    housekept_system: System,
) -> None:
    for email, stored in (
        ("ada@example.com", "ada@example.com"),
        ("Ada.Lovelace+tocsin@Mail.Example.org", "Ada.Lovelace+tocsin@mail.example.org"),
        ("ada@bücher.de", "ada@xn--bcher-kva.de"),
    ):
        response = httpx.put(
            f"{housekept_system.api_url}/api/v1/subscribers/{new_user()}",
            json={"email": email},
            headers=housekept_system.service_headers(),
            timeout=10,
        )
        assert response.status_code == 200, (email, response.text)
        assert response.json()["email"] == stored
