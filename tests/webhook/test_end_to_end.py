"""Through the real notification service: REST create → event store → relay → broker → webhook
consumer → receiver, and the outcome back into `GET /api/v1/notifications/{id}`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from contracts.topology import Topology
from messaging.topology import DEFAULT_RETRY_DELAYS_MS, consumer_queue_names
from tests.support.infra import free_port
from tests.support.notification_process import notification_process
from tests.support.users import new_user
from tests.support.waiting import eventually
from tests.support.webhook_receiver import WebhookReceiver
from tests.support.webhook_service import JWT_SECRET, WebhookService, sender_token, user_token


@pytest.fixture
def notification_url(
    database_url: str, amqp_url: str, topology: Topology, broker_cleanup: list[str]
) -> Iterator[str]:
    broker_cleanup.extend(
        consumer_queue_names(topology, "notification-deliveries", DEFAULT_RETRY_DELAYS_MS)
    )
    port = free_port()
    process = notification_process(database_url, amqp_url, topology, JWT_SECRET, port)
    process.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.stop()


async def test_a_notification_created_over_rest_reaches_the_users_webhook_and_its_status(
    service: WebhookService, receiver: WebhookReceiver, notification_url: str
) -> None:
    user = new_user()
    endpoint = await service.register(receiver, "e2e", user_token(user))
    async with httpx.AsyncClient(base_url=notification_url, timeout=10) as api:
        response = await api.post(
            "/api/v1/notifications",
            json={
                "recipients": [user],
                "type": "incident_created",
                "priority": "high",
                "title": "Database down",
                "entity_type": "incident",
                "entity_id": "inc-7",
            },
            headers=sender_token(),
        )
        assert response.status_code == 201, response.text
        [notification] = response.json()["notifications"]

        [request] = await eventually(lambda: receiver.at("e2e"), what="the webhook delivery")
        assert request.verified
        assert request.payload["type"] == "notification.created"
        body: dict[str, Any] = request.payload["data"]["data"]
        assert body["notification"]["id"] == notification["id"]
        assert body["notification"]["title"] == "Database down"
        assert request.webhook_id == request.payload["data"]["event_id"]

        async def webhook_status() -> dict[str, Any]:
            detail = await api.get(
                f"/api/v1/notifications/{notification['id']}", headers=user_token(user)
            )
            assert detail.status_code == 200, detail.text
            deliveries: dict[str, Any] = detail.json().get("deliveries", {})
            return deliveries.get("webhook") or {}

        status = await eventually(webhook_status, what="the webhook delivery status")
    assert status["status"] == "succeeded"
    assert status["target"] == endpoint["id"]
    assert status["attempts"] == 1
