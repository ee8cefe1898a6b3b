"""FCM HTTP v1 and APNs (HTTP/2, token auth) against local servers that check the protocol;
tokens the services call unregistered or bad are removed."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from contracts.notifications import Priority
from tests.push.servers import ApnsService, FcmService, Reply, WebPushService, fcm_error
from tests.support.push_service import PushService, created_event, notification_id, user_token
from tests.support.users import new_user


def fcm_token() -> str:
    return f"fcm-token:APA91b{secrets.token_urlsafe(30)}"


def apns_token() -> str:
    return secrets.token_hex(32)


BUNDLE = "com.example.tocsin"


@asynccontextmanager
async def mobile_service(
    service_factory: Callable[..., Any],
    web_push: WebPushService,
    fcm: FcmService,
    apns: ApnsService,
) -> AsyncIterator[PushService]:
    async with service_factory(
        allowed_targets=(web_push.target, fcm.target, apns.target),
        fcm_credentials=fcm.credentials(),
        fcm_url=fcm.origin,
        apns_key=apns.signing_key(),
        apns_key_id=ApnsService.KEY_ID,
        apns_team_id=ApnsService.TEAM_ID,
        apns_production_url=apns.origin,
        apns_sandbox_url=apns.origin,
    ) as service:
        yield service


async def register(service: PushService, user: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await service.http.post(
        "/api/v1/push/subscriptions", json=body, headers=user_token(user)
    )
    assert response.status_code == 201, response.text
    device: dict[str, Any] = response.json()
    return device


async def test_fcm_gets_an_oauth_token_and_a_v1_message(
    service_factory: Callable[..., Any],
    web_push: WebPushService,
    fcm: FcmService,
    apns: ApnsService,
) -> None:
    async with mobile_service(service_factory, web_push, fcm, apns) as service:
        user, token = new_user(), fcm_token()
        await register(service, user, {"platform": "fcm", "token": token, "app_id": "app1"})
        first = created_event(user, priority=Priority.CRITICAL, title="Payments down")
        second = created_event(user, priority=Priority.CRITICAL, entity=("incident", "INC-9"))
        for event in (first, second):
            await service.publish(event)
            await service.wait_state(notification_id(event), "sent")
        assert fcm.problems == []
        assert [r.token for r in fcm.received] == [token, token]
        message = fcm.received[0].message
        assert message["notification"] == {"title": "Payments down", "body": "INC-1 was created"}
        assert message["data"]["id"] == notification_id(first)
        assert message["data"]["entity_url"] == "/incidents/INC-1"
        assert message["android"]["priority"] == "high"
        assert message["android"]["collapse_key"] == message["apns"]["headers"]["apns-collapse-id"]
        assert fcm.grants == 1  # the access token is reused


@pytest.mark.parametrize(
    "reply",
    [
        fcm_error(404, "NOT_FOUND", "UNREGISTERED"),
        fcm_error(403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH"),
    ],
)
async def test_fcm_unregistered_tokens_are_removed(
    service_factory: Callable[..., Any],
    web_push: WebPushService,
    fcm: FcmService,
    apns: ApnsService,
    reply: Reply,
) -> None:
    async with mobile_service(service_factory, web_push, fcm, apns) as service:
        user, token = new_user(), fcm_token()
        await register(service, user, {"platform": "fcm", "token": token})
        fcm.script(token, reply)
        event = created_event(user, priority=Priority.CRITICAL)
        await service.publish(event)
        await service.wait_state(notification_id(event), "failed")
        assert await service.devices(user) == []


async def test_fcm_unavailable_is_retried(
    service_factory: Callable[..., Any],
    web_push: WebPushService,
    fcm: FcmService,
    apns: ApnsService,
) -> None:
    async with mobile_service(service_factory, web_push, fcm, apns) as service:
        user, token = new_user(), fcm_token()
        await register(service, user, {"platform": "fcm", "token": token})
        fcm.script(token, fcm_error(503, "UNAVAILABLE", "UNAVAILABLE"))
        event = created_event(user, priority=Priority.CRITICAL)
        await service.publish(event)
        await service.wait_state(notification_id(event), "sent")
        assert [r.replied for r in fcm.received] == [503, 200]
        assert len(await service.devices(user)) == 1


async def test_apns_gets_an_http2_request_with_a_provider_token(
    service_factory: Callable[..., Any],
    web_push: WebPushService,
    fcm: FcmService,
    apns: ApnsService,
) -> None:
    async with mobile_service(service_factory, web_push, fcm, apns) as service:
        user, token = new_user(), apns_token()
        device = await register(
            service,
            user,
            {"platform": "apns", "token": token, "app_id": BUNDLE, "environment": "sandbox"},
        )
        assert device["environment"] == "sandbox"
        event = created_event(user, priority=Priority.LOW, title="FYI")
        await service.publish(event)
        await service.seen(event)
        critical = created_event(user, priority=Priority.CRITICAL, title="Now")
        await service.publish(critical)
        await service.wait_state(notification_id(critical), "sent")
        assert apns.problems == []
        [push] = apns.received
        assert push.token == token
        assert push.headers["apns-topic"] == BUNDLE
        assert push.headers["apns-push-type"] == "alert"
        assert push.headers["apns-priority"] == "10"
        assert len(push.headers["apns-collapse-id"]) <= 64
        assert push.body["aps"]["alert"] == {"title": "Now", "body": "INC-1 was created"}
        assert push.body["tocsin"]["id"] == notification_id(critical)


@pytest.mark.parametrize(
    "reply",
    [Reply(410, body={"reason": "Unregistered"}), Reply(400, body={"reason": "BadDeviceToken"})],
)
async def test_apns_unregistered_and_bad_tokens_are_removed(
    service_factory: Callable[..., Any],
    web_push: WebPushService,
    fcm: FcmService,
    apns: ApnsService,
    reply: Reply,
) -> None:
    async with mobile_service(service_factory, web_push, fcm, apns) as service:
        user, token = new_user(), apns_token()
        await register(service, user, {"platform": "apns", "token": token, "app_id": BUNDLE})
        apns.script(token, reply)
        event = created_event(user, priority=Priority.CRITICAL)
        await service.publish(event)
        await service.wait_state(notification_id(event), "failed")
        assert await service.devices(user) == []
