"""Request rate limits: a person (or, when configured, a service) over its rate gets 429
`rate_limited` with Retry-After, the refused request changes nothing, and others are not
affected."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from identity.rate_limit import Rate, TokenBuckets
from services.notification.app import create_app
from services.notification.settings import Settings
from tests.support.in_process import serving
from tests.support.users import new_user

CREATE = "/api/v1/notifications"
STATS = "/api/v1/notifications/stats"


@pytest.fixture
async def limited(
    settings: Settings, broker_cleanup: list[str]
) -> AsyncIterator[httpx.AsyncClient]:
    """The API with a tight limit: 3 requests at once, then one every 5 s, for people and
    services alike (slow enough that no token comes back while a test runs)."""
    tight = settings.model_copy(
        update={
            "rate_limit_user_per_s": 0.2,
            "rate_limit_user_burst": 3,
            "rate_limit_service_per_s": 0.2,
            "rate_limit_service_burst": 3,
        }
    )
    async with serving(create_app(tight), "http://notification.test") as client:
        yield client


async def test_a_person_over_the_rate_gets_429_with_retry_after_and_others_are_unaffected(
    limited: httpx.AsyncClient, user_token: Callable[[str], dict[str, str]]
) -> None:
    greedy, other = new_user(), new_user()
    answers = [(await limited.get(STATS, headers=user_token(greedy))) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    refused = answers[-1]
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 0 < refused.json()["error"]["details"]["retry_after_s"] <= 5.0
    assert 1 <= int(refused.headers["Retry-After"]) <= 5
    assert (await limited.get(STATS, headers=user_token(other))).status_code == 200
    missing = await limited.get(STATS)
    assert missing.status_code == 401, "an unauthenticated call is refused for what it is"


async def test_a_service_over_its_rate_is_refused_before_anything_is_created(
    limited: httpx.AsyncClient,
    service_headers: dict[str, str],
    user_token: Callable[[str], dict[str, str]],
) -> None:
    user = new_user()
    body = {"recipients": [user], "type": "incident_created", "title": "t"}
    statuses = [
        (await limited.post(CREATE, json=body, headers=service_headers)).status_code
        for _ in range(5)
    ]
    assert statuses[:3] == [201, 201, 201]
    assert statuses[3:] == [429, 429]
    listed = (await limited.get("/api/v1/notifications", headers=user_token(user))).json()
    assert len(listed["items"]) == 3, "a refused create left a notification behind"


async def test_service_callers_are_not_limited_by_default(
    client: httpx.AsyncClient, service_headers: dict[str, str], settings: Settings
) -> None:
    assert settings.rate_limit_service_per_s == 0
    user = new_user()
    body = {"recipients": [user], "type": "incident_created", "title": "t"}
    burst = settings.rate_limit_user_burst + 10
    statuses = {
        (await client.post(CREATE, json=body, headers=service_headers)).status_code
        for _ in range(burst)
    }
    assert statuses == {201}


def test_a_bucket_refills_at_its_rate_and_forgets_the_least_recent_caller_past_its_bound() -> None:
    now = [0.0]
    buckets = TokenBuckets(Rate(per_s=2.0, burst=2), clock=lambda: now[0], max_keys=2)
    assert [buckets.take("a") for _ in range(2)] == [0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)
    now[0] = 0.5
    assert buckets.take("a") == 0.0, "one token back after half a second at 2/s"
    assert buckets.take("a") == pytest.approx(0.5)
    now[0] = 100.0
    assert [buckets.take("a") for _ in range(2)] == [0.0, 0.0], "never more than the burst"
    assert buckets.take("a") > 0
    buckets.take("b")
    buckets.take("c")
    assert len(buckets) == 2
    assert buckets.take("a") == 0.0, "'a' was the least recent: forgotten, full again"


def test_reserving_spaces_callers_at_the_rate_instead_of_refusing() -> None:
    now = [100.0]
    buckets = TokenBuckets(Rate(per_s=2.0, burst=2), clock=lambda: now[0])
    waits = [buckets.reserve("endpoint-a") for _ in range(5)]
    assert waits == [0.0, 0.0, 0.5, 1.0, 1.5]
    assert buckets.reserve("endpoint-b") == 0.0, "each key has its own bucket"
    now[0] += 10.0
    assert buckets.reserve("endpoint-a") == 0.0, "the bucket refills with time"
