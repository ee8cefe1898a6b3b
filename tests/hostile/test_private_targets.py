"""Webhooks as an internal port scanner: with private networks allowed (the local run), a user
could register `http://127.0.0.1:<any port>` and read the first KiB of what answered. Private
targets are now an explicit `address:port` allow-list; Tocsin's own ports are refused even when
listed, and nothing a private target answers is stored."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.infra import free_port
from tests.support.system import System
from tests.support.users import new_user
from tests.support.waiting import eventually
from tests.support.webhook_receiver import Reply

ENDPOINTS = "/api/v1/webhooks/endpoints"


@pytest.fixture(scope="module")
def listed_system(database_url: str, amqp_url: str) -> Iterator[System]:
    """The receiver is allowed, and so, wrongly, are the webhook and notification services'
    own ports: the service must refuse those anyway."""
    system = System(database_url, amqp_url, email_enabled=False)
    own = {name: system.ports.setdefault(name, free_port()) for name in ("notification", "webhook")}
    listed = [system.receiver.port, own["notification"], own["webhook"], 5432, 5672]
    system.webhook_env["WEBHOOK_ALLOWED_PRIVATE_TARGETS"] = ",".join(
        f"127.0.0.1:{port}" for port in listed
    )
    try:
        yield system.start()
    finally:
        system.stop()


async def test_private_ports_off_the_allow_list_are_refused(listed_system: System) -> None:
    unlisted = free_port()
    headers = listed_system.user_headers(new_user())
    async with httpx.AsyncClient(base_url=listed_system.webhook_url, timeout=30) as api:
        for url in (
            f"http://127.0.0.1:{unlisted}/probe",
            f"http://127.0.0.2:{listed_system.receiver.port}/probe",
            f"http://localhost:{listed_system.receiver.port}/probe",
            f"http://[::1]:{listed_system.receiver.port}/probe",
        ):
            response = await api.post(ENDPOINTS, json={"url": url}, headers=headers)
            assert response.status_code == 422, (url, response.text)
            assert response.json()["error"]["code"] == "url_not_allowed", response.text
        allowed = await api.post(
            ENDPOINTS, json={"url": listed_system.receiver.url("ok")}, headers=headers
        )
        assert allowed.status_code == 201, allowed.text


async def test_tocsins_own_ports_are_refused_even_when_listed(listed_system: System) -> None:
    headers = listed_system.user_headers(new_user())
    async with httpx.AsyncClient(base_url=listed_system.webhook_url, timeout=30) as api:
        for name in ("notification", "webhook", "realtime-0"):
            url = f"http://127.0.0.1:{listed_system.ports[name]}/api/v1/notifications"
            response = await api.post(ENDPOINTS, json={"url": url}, headers=headers)
            assert response.status_code == 422, (name, response.text)
            assert response.json()["error"]["code"] == "url_not_allowed"
        for port in (5432, 5672):
            response = await api.post(
                ENDPOINTS, json={"url": f"http://127.0.0.1:{port}/"}, headers=headers
            )
            assert response.status_code == 422, (port, response.text)


async def test_what_a_private_target_answers_is_not_stored(listed_system: System) -> None:
    user = new_user()
    path = listed_system.register_webhook(user)
    listed_system.receiver.replies[path] = Reply(500)  # the receiver's body is "ok"
    async with httpx.AsyncClient(timeout=30) as http:
        created = await http.post(
            f"{listed_system.api_url}/api/v1/notifications",
            json={"recipients": [user], "type": "incident_created", "priority": "high",
                  "title": "read what answers"},
            headers=listed_system.service_headers(),
        )  # fmt: skip
        assert created.status_code == 201, created.text
        mine = listed_system.user_headers(user)
        endpoint_id = (
            await http.get(f"{listed_system.webhook_url}{ENDPOINTS}", headers=mine)
        ).json()[0]["id"]

        async def attempts() -> list[dict[str, object]]:
            url = f"{listed_system.webhook_url}{ENDPOINTS}/{endpoint_id}/attempts"
            return list((await http.get(url, headers=mine)).json())

        seen = await eventually(attempts, lambda a: len(a) >= 1, timeout=60, what="an attempt")
    assert seen[0]["status_code"] == 500
    assert [a["response_excerpt"] for a in seen] == [None] * len(seen)
