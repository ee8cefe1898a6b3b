"""Webhook amplification: a user could register any number of endpoints (25 endpoints turned 5
actions into 225 POSTs) and call the webhook API without limit. Now a user has at most
`WEBHOOK_MAX_ENDPOINTS_PER_USER` endpoints (409 `too_many_endpoints`, also under a concurrent
burst), the webhook API is rate-limited like the notification API (429 `rate_limited`), and
deliveries to one endpoint over `WEBHOOK_ENDPOINT_RATE_PER_S` wait instead of being sent at
once, and are never dropped."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator

import httpx
import pytest

from tests.support.system import System
from tests.support.users import new_user
from tests.support.waiting import eventually

ENDPOINTS = "/api/v1/webhooks/endpoints"
BURST = 30


@pytest.fixture(scope="module")
def capped_system(database_url: str, amqp_url: str) -> Iterator[System]:
    system = System(
        database_url,
        amqp_url,
        email_enabled=False,
        webhook_env={
            "WEBHOOK_MAX_ENDPOINTS_PER_USER": "3",
            "RATE_LIMIT_USER_PER_S": "0.2",
            "RATE_LIMIT_USER_BURST": str(BURST),
            "WEBHOOK_ENDPOINT_RATE_PER_S": "0.5",
            "WEBHOOK_ENDPOINT_BURST": "1",
        },
    )
    try:
        yield system.start()
    finally:
        system.stop()


async def test_a_user_cannot_register_more_endpoints_than_the_cap_even_at_once(
    capped_system: System,
) -> None:
    user = new_user()
    headers = capped_system.user_headers(user)
    async with httpx.AsyncClient(base_url=capped_system.webhook_url, timeout=30) as api:
        answers = await asyncio.gather(
            *(
                api.post(ENDPOINTS, json={"url": capped_system.receiver.url(f"cap-{i}")},
                         headers=headers)
                for i in range(8)
            )
        )  # fmt: skip
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [201] * 3 + [409] * 5, [a.text for a in answers]
        refused = next(a for a in answers if a.status_code == 409)
        assert refused.json()["error"]["code"] == "too_many_endpoints"
        listed = await api.get(ENDPOINTS, headers=headers)
        assert len(listed.json()) == 3
        # Deleting one makes room again.
        await api.delete(f"{ENDPOINTS}/{listed.json()[0]['id']}", headers=headers)
        again = await api.post(
            ENDPOINTS, json={"url": capped_system.receiver.url("cap-again")}, headers=headers
        )
        assert again.status_code == 201, again.text


async def test_the_webhook_api_answers_429_over_the_callers_rate(capped_system: System) -> None:
    headers = capped_system.user_headers(new_user())
    async with httpx.AsyncClient(base_url=capped_system.webhook_url, timeout=30) as api:
        answers = [await api.get(ENDPOINTS, headers=headers) for _ in range(BURST + 10)]
        limited = [a for a in answers if a.status_code == 429]
        assert limited, [a.status_code for a in answers]
        assert limited[0].json()["error"]["code"] == "rate_limited"
        assert int(limited[0].headers["retry-after"]) >= 1
        other = await api.get(ENDPOINTS, headers=capped_system.user_headers(new_user()))
        assert other.status_code == 200, "one caller's rate does not limit another"


def paced_attempts(metrics: str) -> float:
    found = re.search(r"^tocsin_webhook_paced_attempts_total (\S+)$", metrics, re.MULTILINE)
    return float(found.group(1)) if found else -1.0


async def test_deliveries_over_an_endpoints_rate_wait_and_all_arrive(
    capped_system: System,
) -> None:
    user = new_user()
    path = capped_system.register_webhook(user)
    async with httpx.AsyncClient(timeout=30) as http:
        before = paced_attempts((await http.get(f"{capped_system.webhook_url}/metrics")).text)
        assert before >= 0, "the pacing metric is exported"
        for i in range(3):
            created = await http.post(
                f"{capped_system.api_url}/api/v1/notifications",
                json={"recipients": [user], "type": "incident_created", "priority": "high",
                      "title": f"burst {i}"},
                headers=capped_system.service_headers(),
            )  # fmt: skip
            assert created.status_code == 201, created.text
        hooks = await eventually(
            lambda: capped_system.receiver.at(path),
            lambda got: len(got) >= 3,
            timeout=60,
            what="every paced delivery",
        )
        after = paced_attempts((await http.get(f"{capped_system.webhook_url}/metrics")).text)
    titles = sorted(h.payload["data"]["data"]["notification"]["title"] for h in hooks)
    assert titles == ["burst 0", "burst 1", "burst 2"]
    assert all(h.verified for h in hooks)
    assert after - before >= 1, "deliveries over the endpoint's rate were delayed"
