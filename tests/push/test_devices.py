"""The devices API: who may register, see and remove which device, and what bad input gets."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from identity import mint_token
from tests.push.servers import WebPushService
from tests.support.push_service import JWT, VAPID_PUBLIC, PushService, user_token
from tests.support.users import new_user

SUBSCRIPTIONS = "/api/v1/push/subscriptions"


async def test_the_public_key_is_the_one_pushes_are_signed_with(service: PushService) -> None:
    response = await service.http.get("/api/v1/push/vapid-public-key")
    assert response.status_code == 200
    assert response.json() == {"public_key": VAPID_PUBLIC}


async def test_registering_twice_keeps_one_device_and_only_its_owner_sees_it(
    service: PushService, web_push: WebPushService
) -> None:
    alice, mallory = new_user(), new_user()
    browser = web_push.subscribe(VAPID_PUBLIC)
    first = await service.http.post(
        SUBSCRIPTIONS, json=browser.to_json(), headers=user_token(alice)
    )
    again = await service.http.post(
        SUBSCRIPTIONS, json=browser.to_json(), headers=user_token(alice)
    )
    assert (first.status_code, again.status_code) == (201, 200)
    device_id = first.json()["id"]
    assert again.json()["id"] == device_id
    assert first.json()["kind"] == "web"
    assert "keys" not in first.json() and "endpoint" not in first.json()
    assert [d["id"] for d in await service.devices(alice)] == [device_id]

    assert await service.devices(mallory) == []
    for method in ("GET", "DELETE"):
        stolen = await service.http.request(
            method, f"{SUBSCRIPTIONS}/{device_id}", headers=user_token(mallory)
        )
        assert stolen.status_code == 404
        assert stolen.json()["error"]["code"] == "device_not_found"
    assert len(await service.devices(alice)) == 1

    gone = await service.http.delete(f"{SUBSCRIPTIONS}/{device_id}", headers=user_token(alice))
    assert gone.status_code == 204
    assert await service.devices(alice) == []


async def test_a_browser_can_forget_its_subscription_by_endpoint(
    service: PushService, web_push: WebPushService
) -> None:
    user = new_user()
    browser = await service.subscribe(web_push, user)
    response = await service.http.delete(
        SUBSCRIPTIONS, params={"endpoint": browser.endpoint}, headers=user_token(user)
    )
    assert response.status_code == 204
    assert await service.devices(user) == []
    odd = await service.http.delete(
        SUBSCRIPTIONS, params={"endpoint": "https://x/\x00"}, headers=user_token(user)
    )
    assert (odd.status_code, odd.json()["error"]["code"]) == (422, "invalid_request")


async def test_devices_per_person_are_capped(
    service_factory: Callable[..., Any], web_push: WebPushService
) -> None:
    async with service_factory(max_devices_per_user=2) as service:
        user = new_user()
        await service.subscribe(web_push, user)
        await service.subscribe(web_push, user)
        third = web_push.subscribe(VAPID_PUBLIC)
        response = await service.http.post(
            SUBSCRIPTIONS, json=third.to_json(), headers=user_token(user)
        )
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "too_many_devices"


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "missing_token"),
        ({"authorization": "Bearer nonsense"}, "invalid_token"),
        ({"authorization": f"Bearer {mint_token(JWT, 'x', ttl_s=-10)}"}, "invalid_token"),
    ],
)
async def test_devices_need_a_valid_token(
    service: PushService, headers: dict[str, str], code: str
) -> None:
    for method, path in (
        ("GET", SUBSCRIPTIONS),
        ("POST", SUBSCRIPTIONS),
        ("DELETE", f"{SUBSCRIPTIONS}/x"),
    ):
        response = await service.http.request(method, path, headers=headers, json={})
        assert response.status_code == 401, (method, response.text)
        assert response.json()["error"]["code"] == code


def _valid(web_push: WebPushService) -> dict[str, Any]:
    return web_push.subscribe(VAPID_PUBLIC).to_json()


@pytest.mark.parametrize(
    ("mutate", "status", "code"),
    [
        (
            lambda s: {**s, "keys": {"p256dh": "AAAA", "auth": s["keys"]["auth"]}},
            422,
            "invalid_request",
        ),
        (
            lambda s: {**s, "keys": {"p256dh": s["keys"]["p256dh"], "auth": "AA"}},
            422,
            "invalid_request",
        ),
        (lambda s: {**s, "endpoint": "https://10.0.0.5/push/x"}, 422, "endpoint_not_allowed"),
        (lambda s: {**s, "endpoint": "http://push.example.com/x"}, 422, "endpoint_not_allowed"),
        (lambda s: {**s, "endpoint": "https://localhost/x"}, 422, "endpoint_not_allowed"),
        (lambda s: {**s, "endpoint": "ftp://push.example.com/x"}, 422, "invalid_subscription"),
        (lambda s: {**s, "endpoint": "https://push.example.com/\x00"}, 422, "invalid_request"),
        (lambda s: {**s, "endpoint": "https://\ud800.example.com/"}, 422, "invalid_request"),
        (lambda s: {**s, "endpoint": "https://push.example.com/ x"}, 422, "invalid_request"),
        (lambda s: {"endpoint": s["endpoint"]}, 422, "invalid_request"),
        (lambda s: [s], 422, "invalid_request"),
        (lambda s: {"platform": "fcm", "token": "x" * 20}, 503, "fcm_push_disabled"),
        (
            lambda s: {"platform": "apns", "token": "zz" * 32, "app_id": "com.x"},
            422,
            "invalid_request",
        ),
        (lambda s: {"platform": "carrier-pigeon", "token": "x" * 20}, 422, "invalid_request"),
        (lambda s: {"platform": "fcm", "token": "bad token\x00"}, 422, "invalid_request"),
    ],
)
async def test_bad_subscriptions_get_a_4xx_with_a_stable_code(
    service: PushService,
    web_push: WebPushService,
    mutate: Callable[[dict[str, Any]], Any],
    status: int,
    code: str,
) -> None:
    user = new_user()
    body = json.dumps(mutate(_valid(web_push))).encode()  # ASCII: escapes lone surrogates
    response = await service.http.post(
        SUBSCRIPTIONS,
        content=body,
        headers={**user_token(user), "content-type": "application/json"},
    )
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert await service.devices(user) == []


async def test_a_body_that_is_not_json_or_too_big_is_refused(service: PushService) -> None:
    headers = {**user_token(new_user()), "content-type": "application/json"}
    broken = await service.http.post(SUBSCRIPTIONS, content=b"{nope", headers=headers)
    assert (broken.status_code, broken.json()["error"]["code"]) == (422, "invalid_request")
    huge = await service.http.post(SUBSCRIPTIONS, content=b" " * 20_000, headers=headers)
    assert (huge.status_code, huge.json()["error"]["code"]) == (413, "payload_too_large")


async def test_without_a_vapid_key_web_push_is_off(
    service_factory: Callable[..., Any], web_push: WebPushService
) -> None:
    async with service_factory(vapid_private_key=None) as service:
        key = await service.http.get("/api/v1/push/vapid-public-key")
        assert (key.status_code, key.json()["error"]["code"]) == (503, "web_push_disabled")
        response = await service.http.post(
            SUBSCRIPTIONS, json=_valid(web_push), headers=user_token(new_user())
        )
        assert (response.status_code, response.json()["error"]["code"]) == (
            503,
            "web_push_disabled",
        )


async def test_health_readiness_and_metrics(service: PushService) -> None:
    assert (await service.http.get("/healthz")).json() == {"status": "ok"}
    assert (await service.http.get("/readyz")).status_code == 200
    metrics = (await service.http.get("/metrics")).text
    assert "tocsin_push_sends_total" in metrics or "tocsin_push_sends" in metrics
