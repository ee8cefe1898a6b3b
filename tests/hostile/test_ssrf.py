"""Webhook SSRF: endpoints that are, or resolve to, loopback, private, link-local, CGNAT or
metadata addresses are refused at registration (also as DNS names and odd IP spellings), and
again at delivery time (an endpoint whose name resolves somewhere private is never contacted);
redirects are never followed."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import asyncpg
import httpx
import pytest

from tests.support.system import System
from tests.support.users import new_user
from tests.support.waiting import eventually
from tests.support.webhook_receiver import Reply

REFUSED_TARGETS = [
    "http://127.0.0.1:{port}/hook",
    "http://localhost:{port}/hook",
    "http://vm:{port}/hook",  # a DNS name (/etc/hosts) that resolves to 127.0.0.1
    "http://runsc:{port}/hook",
    "http://[::1]:{port}/hook",
    "http://[::ffff:127.0.0.1]:{port}/hook",
    "http://0x7f000001:{port}/hook",
    "http://2130706433:{port}/hook",
    "http://127.1:{port}/hook",
    "http://0.0.0.0:{port}/hook",
    "http://10.0.0.1/hook",
    "http://172.16.0.1/hook",
    "http://192.168.1.1/hook",
    "http://100.64.0.1/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fe80::1]/hook",
    "http://[fd00::1]/hook",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://user:pass@127.0.0.1:{port}/hook",
    "file:///etc/passwd",
    "gopher://127.0.0.1:{port}/_x",
    "ftp://127.0.0.1/x",
]


@pytest.mark.parametrize("target", REFUSED_TARGETS)
async def test_private_and_metadata_targets_are_refused_at_registration(
    hostile_system: System, target: str
) -> None:
    url = target.format(port=hostile_system.receiver.port)
    async with httpx.AsyncClient(base_url=hostile_system.webhook_url, timeout=30) as api:
        response = await api.post(
            "/api/v1/webhooks/endpoints",
            json={"url": url},
            headers=hostile_system.user_headers(new_user()),
        )
    assert 400 <= response.status_code < 500, (url, response.status_code, response.text)
    assert response.json()["error"]["code"], response.text
    assert not hostile_system.receiver.received


async def test_a_name_resolving_to_loopback_is_refused_again_at_delivery(
    hostile_system: System,
) -> None:
    """An endpoint stored before (or around) the registration check, whose name resolves to
    loopback, is never contacted: the address is checked on every connection."""
    user = new_user()
    path = f"rebind-{uuid.uuid4().hex[:6]}"
    conn = await asyncpg.connect(hostile_system.database_url)
    try:
        await conn.execute(
            "INSERT INTO webhook.endpoints (id, url, event_types, user_id, secret, created_by)"
            " VALUES ($1, $2, ARRAY['notification.created'], $3, $4, $3)",
            f"ep_{uuid.uuid4().hex[:12]}",
            f"http://vm:{hostile_system.receiver.port}/{path}",
            user,
            "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=",
        )
    finally:
        await conn.close()
    async with httpx.AsyncClient(base_url=hostile_system.api_url, timeout=10) as api:
        created = await api.post(
            "/api/v1/notifications",
            json={"recipients": [user], "type": "incident_created", "priority": "high",
                  "title": "to a private address"},
            headers=hostile_system.service_headers(),
        )  # fmt: skip
        assert created.status_code == 201, created.text
        notification_id = created.json()["notifications"][0]["id"]

        async def webhook_status() -> dict[str, object]:
            detail = await api.get(
                f"/api/v1/notifications/{notification_id}",
                headers=hostile_system.user_headers(user),
            )
            return dict((detail.json().get("deliveries") or {}).get("webhook") or {})

        status = await eventually(webhook_status, lambda s: s.get("status") == "failed",
                                  timeout=60, what="the delivery refused")  # fmt: skip
    assert not hostile_system.receiver.at(path), "the private address was contacted"
    assert status["status"] == "failed"


async def test_redirects_are_not_followed_even_when_private_networks_are_allowed(
    start_system_for_ssrf: Callable[..., System],
) -> None:
    system = start_system_for_ssrf()
    user = new_user()
    path = system.register_webhook(user)
    system.receiver.replies[path] = Reply(
        302, headers={"Location": "http://169.254.169.254/latest/meta-data/"}
    )
    async with httpx.AsyncClient(base_url=system.api_url, timeout=10) as api:
        created = await api.post(
            "/api/v1/notifications",
            json={"recipients": [user], "type": "incident_created", "priority": "high",
                  "title": "redirected"},
            headers=system.service_headers(),
        )  # fmt: skip
        assert created.status_code == 201
        notification_id = created.json()["notifications"][0]["id"]

        async def webhook_status() -> dict[str, object]:
            detail = await api.get(
                f"/api/v1/notifications/{notification_id}", headers=system.user_headers(user)
            )
            return dict((detail.json().get("deliveries") or {}).get("webhook") or {})

        status = await eventually(webhook_status, lambda s: s.get("status") == "failed",
                                  timeout=60, what="the redirect refused")  # fmt: skip
    assert len(system.receiver.at(path)) == 1, (status, system.receiver.received)
    assert "redirect" in str(status.get("last_error", "")).lower() or status["status"] == "failed"
