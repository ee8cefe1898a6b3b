"""A scope grants exactly what its name says. `notifications:write` sends notifications and
nothing else: it cannot read anyone's event stream, register a global webhook, or change or
re-key someone else's endpoint. `events:read` reads event streams and cannot send;
`webhooks:admin` administers webhooks, and the owner of an endpoint it changes is told."""

from __future__ import annotations

import httpx

from tests.support.system import System
from tests.support.users import new_user

ENDPOINTS = "/api/v1/webhooks/endpoints"
PUBLIC_URL = "https://hooks.example.com/tocsin"


async def test_a_sending_service_cannot_read_event_streams(hostile_system: System) -> None:
    victim = new_user()
    sender = hostile_system.service_headers("svc-billing")
    reader = hostile_system.events_reader_headers()
    async with httpx.AsyncClient(base_url=hostile_system.api_url, timeout=10) as api:
        created = await api.post(
            "/api/v1/notifications",
            json={"recipients": [victim], "type": "x", "priority": "high", "title": "secret"},
            headers=sender,
        )
        assert created.status_code == 201, created.text
        for method, path, body in (
            ("GET", f"/api/v1/internal/users/{victim}/events", None),
            ("POST", "/api/v1/internal/latest-seqs", {"user_ids": [victim]}),
        ):
            refused = await api.request(method, path, json=body, headers=sender)
            assert refused.status_code == 403, (path, refused.text)
            assert refused.json()["error"]["code"] == "insufficient_scope"
            allowed = await api.request(method, path, json=body, headers=reader)
            assert allowed.status_code == 200, (path, allowed.text)
        stream = await api.get(f"/api/v1/internal/users/{victim}/events", headers=reader)
        assert stream.json()["latest_seq"] == 1


async def test_an_events_reader_cannot_send(hostile_system: System) -> None:
    async with httpx.AsyncClient(base_url=hostile_system.api_url, timeout=10) as api:
        response = await api.post(
            "/api/v1/notifications",
            json={"recipients": [new_user()], "type": "x", "priority": "high", "title": "t"},
            headers=hostile_system.events_reader_headers(),
        )
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "insufficient_scope"


async def test_only_a_webhook_administrator_registers_global_or_others_endpoints(
    hostile_system: System,
) -> None:
    victim = new_user()
    async with httpx.AsyncClient(base_url=hostile_system.webhook_url, timeout=30) as api:
        for headers in (hostile_system.service_headers(), hostile_system.events_reader_headers()):
            for body in (
                {"url": PUBLIC_URL, "scope": "global", "event_types": ["*"]},
                {"url": PUBLIC_URL, "user_id": victim},
            ):
                refused = await api.post(ENDPOINTS, json=body, headers=headers)
                assert refused.status_code == 403, (body, refused.text)
                assert refused.json()["error"]["code"] == "forbidden"
        admin = hostile_system.webhooks_admin_headers()
        created = await api.post(ENDPOINTS, json={"url": PUBLIC_URL, "scope": "global"},
                                 headers=admin)  # fmt: skip
        assert created.status_code == 201, created.text
        assert created.json()["scope"] == "global"
        deleted = await api.delete(f"{ENDPOINTS}/{created.json()['id']}", headers=admin)
        assert deleted.status_code == 204


async def test_a_sending_service_cannot_touch_someone_elses_endpoint(
    hostile_system: System,
) -> None:
    owner = new_user()
    async with httpx.AsyncClient(base_url=hostile_system.webhook_url, timeout=30) as api:
        mine = await api.post(
            ENDPOINTS, json={"url": PUBLIC_URL}, headers=hostile_system.user_headers(owner)
        )
        assert mine.status_code == 201, mine.text
        endpoint = f"{ENDPOINTS}/{mine.json()['id']}"
        sender = hostile_system.service_headers()
        for method, path, body in (
            ("GET", ENDPOINTS, None),
            ("GET", endpoint, None),
            ("PATCH", endpoint, {"url": "https://attacker.example.com/steal"}),
            ("POST", f"{endpoint}/secret/rotate", None),
            ("DELETE", endpoint, None),
        ):
            response = await api.request(method, path, json=body, headers=sender)
            if path == ENDPOINTS:
                assert response.status_code == 200 and response.json() == [], response.text
            else:
                assert response.status_code == 404, (method, path, response.text)
                assert response.json()["error"]["code"] == "endpoint_not_found"
        unchanged = await api.get(endpoint, headers=hostile_system.user_headers(owner))
        assert unchanged.json()["url"] == PUBLIC_URL


async def test_the_owner_is_told_when_an_administrator_changes_their_endpoint(
    hostile_system: System,
) -> None:
    owner = new_user()
    mine = hostile_system.user_headers(owner)
    admin = hostile_system.webhooks_admin_headers("ops-alice")
    async with httpx.AsyncClient(base_url=hostile_system.webhook_url, timeout=30) as api:
        created = await api.post(ENDPOINTS, json={"url": PUBLIC_URL}, headers=mine)
        endpoint = f"{ENDPOINTS}/{created.json()['id']}"
        await api.patch(endpoint, json={"description": "mine"}, headers=mine)
        assert (await api.get(f"{endpoint}/changes", headers=mine)).json() == []

        moved = await api.patch(
            endpoint, json={"url": "https://elsewhere.example.com/hook"}, headers=admin
        )
        assert moved.status_code == 200, moved.text
        rotated = await api.post(f"{endpoint}/secret/rotate", headers=admin)
        assert rotated.status_code == 200, rotated.text

        changes = await api.get(f"{endpoint}/changes", headers=mine)
        assert changes.status_code == 200, changes.text
        told = [(c["changed_by"], c["change"]) for c in changes.json()]
        assert told == [
            ("ops-alice", "rotated the secret"),
            ("ops-alice", "changed url to https://elsewhere.example.com/hook"),
        ]
        stranger = await api.get(f"{endpoint}/changes", headers=hostile_system.user_headers(
            new_user()))  # fmt: skip
        assert stranger.status_code == 404
