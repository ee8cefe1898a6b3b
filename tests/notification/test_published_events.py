"""What consumers observe on the events exchange when notifications are created and changed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from aio_pika.abc import AbstractQueue

from contracts.events import EventEnvelope, EventType, NotificationCreated
from contracts.topology import binding_for_type, binding_for_user
from observability.metrics import badly_named_metrics, parse_metrics
from services.notification.app import create_app
from services.notification.settings import Settings
from tests.support.in_process import serving
from tests.support.queues import Collector
from tests.support.users import new_user
from tests.support.waiting import eventually

BoundQueue = Callable[[list[str]], Awaitable[AbstractQueue]]


def notification_body(recipients: list[str], **overrides: Any) -> dict[str, Any]:
    return {
        "recipients": recipients,
        "type": "incident_created",
        "priority": "high",
        "title": "New Incident Created",
        "message": "Incident INC-2024-001 has been created",
        "entity_type": "incident",
        "entity_id": "inc-1",
        "entity_url": "/incidents/inc-1",
        **overrides,
    }


async def test_creating_a_notification_publishes_exactly_one_created_event(
    client: httpx.AsyncClient, service_headers: dict[str, str], bound_queue: BoundQueue
) -> None:
    user = new_user()
    queue = await bound_queue([binding_for_type(EventType.NOTIFICATION_CREATED)])
    collector = Collector(queue)

    response = await client.post(
        "/api/v1/notifications", json=notification_body([user]), headers=service_headers
    )
    assert response.status_code == 201, response.text
    created = response.json()["notifications"][0]

    mine = await eventually(
        collector.poll,
        lambda bodies: any(b["user_id"] == user for b in bodies),
        what="notification.created on the bound queue",
    )
    mine = [b for b in collector.bodies if b["user_id"] == user]
    assert len(mine) == 1
    message = next(m for m in collector.messages if m.message_id == mine[0]["event_id"])
    assert message.content_type == "application/json"
    assert message.type == "notification.created"
    assert message.delivery_mode is not None and message.delivery_mode.value == 2

    envelope = EventEnvelope.model_validate(mine[0])
    assert envelope.type is EventType.NOTIFICATION_CREATED
    assert envelope.seq == 1
    assert envelope.position is not None
    assert envelope.stats is not None and envelope.stats.unread == 1
    data = envelope.data_as(NotificationCreated)
    assert data.notification.id == created["id"]
    assert data.notification.title == "New Incident Created"
    assert data.notification.priority.value == "high"
    assert data.notification.entity_url == "/incidents/inc-1"
    assert data.notification.is_read is False
    assert data.recipient.user_id == user
    assert [c.value for c in data.channels] == ["in_app", "email", "webhook", "push"]


async def test_each_state_change_publishes_its_event_with_stats_after_the_change(
    client: httpx.AsyncClient,
    service_headers: dict[str, str],
    user_token: Callable[[str], dict[str, str]],
    bound_queue: BoundQueue,
) -> None:
    user = new_user()
    me = user_token(user)
    collector = Collector(await bound_queue([binding_for_user(user)]))

    ids = []
    for priority in ("high", "low"):
        response = await client.post(
            "/api/v1/notifications",
            json=notification_body([user], priority=priority),
            headers=service_headers,
        )
        assert response.status_code == 201, response.text
        ids.append(response.json()["notifications"][0]["id"])
    high, low = ids

    assert (await client.post(f"/api/v1/notifications/{high}/read", headers=me)).status_code == 200
    assert (
        await client.post(f"/api/v1/notifications/{high}/unread", headers=me)
    ).status_code == 200
    assert (await client.post("/api/v1/notifications/read-all", headers=me)).status_code == 200
    assert (await client.delete(f"/api/v1/notifications/{low}", headers=me)).status_code == 204

    bodies = await eventually(collector.poll, lambda b: len(b) >= 6, what="six events for the user")
    envelopes = [EventEnvelope.model_validate(b) for b in bodies]
    assert [e.type.value for e in envelopes] == [
        "notification.created",
        "notification.created",
        "notification.read",
        "notification.unread",
        "notification.read_all",
        "notification.deleted",
    ]
    assert [e.seq for e in envelopes] == [1, 2, 3, 4, 5, 6]
    stats = [(e.stats.total, e.stats.unread) for e in envelopes if e.stats]
    assert stats == [(1, 1), (2, 2), (2, 1), (2, 2), (2, 0), (1, 0)]
    assert envelopes[2].data == {"id": high}
    assert sorted(envelopes[4].data["ids"]) == sorted([high, low])
    assert envelopes[5].data == {"id": low}
    unread_high = [e.stats.unread_by_priority.get("high") for e in envelopes if e.stats]
    assert unread_high == [1, 1, 0, 1, 0, 0]
    positions = [e.position for e in envelopes]
    assert positions == sorted(positions)

    stats_now = (await client.get("/api/v1/notifications/stats", headers=me)).json()
    assert stats_now["total"] == 1 and stats_now["unread"] == 0


async def test_metrics_count_creates_and_relay_publishes(
    client: httpx.AsyncClient, service_headers: dict[str, str], bound_queue: BoundQueue
) -> None:
    user = new_user()
    collector = Collector(await bound_queue([binding_for_user(user)]))
    response = await client.post(
        "/api/v1/notifications", json=notification_body([user]), headers=service_headers
    )
    assert response.status_code == 201
    await eventually(collector.poll, lambda b: len(b) >= 1, what="the created event")
    metrics = parse_metrics((await client.get("/metrics")).text)
    assert metrics["tocsin_notification_created_total"] >= 1
    assert metrics["tocsin_notification_relay_published_events_total"] >= 1
    assert metrics["tocsin_notification_relay_active"] == 1
    assert badly_named_metrics() == []


async def test_each_kind_of_create_wakes_the_relay_without_waiting_for_its_poll(
    settings: Settings, broker_cleanup: list[str], service_headers: dict[str, str],
    bound_queue: BoundQueue,
) -> None:  # fmt: skip
    """The relay polls only once an hour here: a group-committed create (no Idempotency-Key)
    and a keyed one both reach the broker because their commit wakes it."""
    hourly = settings.model_copy(update={"relay_poll_interval_s": 3600.0})
    queue = await bound_queue([binding_for_type(EventType.NOTIFICATION_CREATED)])
    collector = Collector(queue)
    async with serving(create_app(hourly), "http://notification.test") as client:
        # The relay's first round (at start) must be over, or it would pick the creates up.
        await asyncio.sleep(1.0)
        for n, extra in enumerate(({}, {"Idempotency-Key": f"wake-{new_user()}"})):
            user = new_user()
            response = await client.post(
                "/api/v1/notifications",
                json=notification_body([user]),
                headers={**service_headers, **extra},
            )
            assert response.status_code == 201, response.text
            await eventually(
                collector.poll,
                lambda bodies, u=user: any(b["user_id"] == u for b in bodies),  # type: ignore[misc]
                timeout=10,
                what=f"create {n} published",
            )
