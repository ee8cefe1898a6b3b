"""Web Push end to end: event on the broker → push service consumer → a local RFC 8030 push
service that checks VAPID and decrypts the message with the subscription's private keys."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa

from contracts.events import EventEnvelope
from contracts.notifications import Priority
from services.push import tables
from tests.push.servers import Reply, WebPushService
from tests.support.push_service import VAPID_PUBLIC, PushService, created_event, notification_id
from tests.support.users import new_user
from tests.support.waiting import eventually


async def received(web_push: WebPushService, subscription: object, count: int) -> list:
    return await eventually(
        lambda: web_push.at(subscription),  # type: ignore[arg-type]
        lambda seen: len(seen) >= count,
        what=f"{count} pushes (problems: {web_push.problems})",
    )


async def test_critical_push_arrives_encrypted_signed_and_decryptable(
    service: PushService, web_push: WebPushService
) -> None:
    user = new_user()
    browser = await service.subscribe(web_push, user)
    assert browser.application_server_key == VAPID_PUBLIC
    event = created_event(user, priority=Priority.CRITICAL, title="Database down")
    await service.publish(event)

    [push] = await received(web_push, browser, 1)
    sent = event.data["notification"]
    assert push.payload == {
        "id": sent["id"],
        "type": "incident_created",
        "priority": "critical",
        "title": "Database down",
        "body": "INC-1 was created",
        "entity_url": "/incidents/INC-1",
        "tag": push.headers["topic"],
        "created_at": push.payload["created_at"],
    }
    assert push.headers["urgency"] == "high"
    assert int(push.headers["ttl"]) == 86_400
    assert push.claims["aud"] == web_push.origin
    assert push.claims["sub"] == "mailto:ops@tocsin.example"
    assert web_push.problems == []
    await service.wait_state(sent["id"], "sent")


async def test_pushes_about_the_same_entity_share_a_topic(
    service: PushService, web_push: WebPushService
) -> None:
    user = new_user()
    browser = await service.subscribe(web_push, user)
    for entity in (("incident", "INC-7"), ("incident", "INC-7"), ("incident", "INC-8")):
        await service.publish(created_event(user, priority=Priority.CRITICAL, entity=entity))
    pushes = await received(web_push, browser, 3)
    topics = {p.payload["entity_url"]: set() for p in pushes}
    for p in pushes:
        topics[p.payload["entity_url"]].add(p.headers["topic"])
    assert len(topics["/incidents/INC-7"]) == 1
    assert topics["/incidents/INC-7"] != topics["/incidents/INC-8"]


async def test_a_long_message_is_shortened_to_fit_under_4_kb(
    service: PushService, web_push: WebPushService
) -> None:
    user = new_user()
    browser = await service.subscribe(web_push, user)
    long = "🚨" * 2000  # 8,000 bytes of UTF-8
    await service.publish(created_event(user, priority=Priority.CRITICAL, message=long))
    [push] = await received(web_push, browser, 1)
    assert web_push.problems == []
    assert len(push.plaintext) <= 3000
    assert push.payload["body"].rstrip("…") and long.startswith(push.payload["body"].rstrip("…"))


@pytest.mark.parametrize("status", [404, 410])
async def test_a_subscription_the_push_service_forgot_is_deleted(
    service: PushService, web_push: WebPushService, status: int
) -> None:
    user = new_user()
    browser = await service.subscribe(web_push, user)
    web_push.script(browser.id, status)
    event = created_event(user, priority=Priority.CRITICAL)
    await service.publish(event)
    await service.wait_state(notification_id(event), "failed")
    assert await service.devices(user) == []


@pytest.mark.parametrize("status", [429, 503])
async def test_a_busy_push_service_is_retried_after_its_retry_after(
    service: PushService, web_push: WebPushService, status: int
) -> None:
    user = new_user()
    browser = await service.subscribe(web_push, user)
    web_push.script(browser.id, Reply(status, headers={"retry-after": "2"}))
    event = created_event(user, priority=Priority.CRITICAL)
    await service.publish(event)
    await service.wait_state(notification_id(event), "sent")
    pushes = web_push.at(browser)
    assert [p.replied for p in pushes] == [status, 201]
    assert pushes[0].plaintext == pushes[1].plaintext
    # Not before the Retry-After (2 s) had passed, although the backoff says 0.2 s.
    assert pushes[1].at - pushes[0].at >= 2.0
    assert len(await service.devices(user)) == 1


async def test_every_device_gets_it_and_each_outcome_is_published(
    service: PushService, web_push: WebPushService, amqp_connection, topology, broker_cleanup
) -> None:
    channel = await amqp_connection.channel()
    queue_name = f"{topology.namespace}.test-outcomes"
    queue = await channel.declare_queue(queue_name, durable=False)
    await queue.bind(topology.events_exchange, "delivery.#")
    broker_cleanup.append(queue_name)
    user = new_user()
    phone_browser = await service.subscribe(web_push, user)
    laptop_browser = await service.subscribe(web_push, user)
    event = created_event(user, priority=Priority.CRITICAL)
    await service.publish(event)
    await received(web_push, phone_browser, 1)
    await received(web_push, laptop_browser, 1)

    outcomes: list[EventEnvelope] = []

    async def read() -> int:
        while (message := await queue.get(no_ack=True, fail=False)) is not None:
            outcomes.append(EventEnvelope.model_validate_json(message.body))
        return len(outcomes)

    await eventually(read, lambda n: n >= 2, what="two outcomes")
    devices = {d["id"] for d in await service.devices(user)}
    assert {o.type.value for o in outcomes} == {"delivery.succeeded"}
    assert {o.data["target"] for o in outcomes} == devices
    assert {o.data["channel"] for o in outcomes} == {"push"}
    assert {o.data["source_event_id"] for o in outcomes} == {event.event_id}


async def test_the_same_event_twice_pushes_once(
    service: PushService, web_push: WebPushService
) -> None:
    user = new_user()
    browser = await service.subscribe(web_push, user)
    event = created_event(user, priority=Priority.CRITICAL)
    await service.publish(event)
    await service.publish(event)
    marker = created_event(user, priority=Priority.CRITICAL, entity=("incident", "marker"))
    await service.wait_state(notification_id(event), "sent")
    await service.publish(marker)
    pushes = await received(web_push, browser, 2)
    await service.wait_state(notification_id(marker), "sent")
    ids = [json.loads(p.plaintext)["id"] for p in web_push.at(browser)]
    assert sorted(ids) == sorted([notification_id(event), notification_id(marker)])
    assert len(pushes) == 2


async def test_a_device_whose_address_is_no_longer_allowed_is_never_contacted(
    service_factory: Any, web_push: WebPushService
) -> None:
    """The address check runs when connecting, not only at registration: a subscription to a
    loopback push service, registered while it was allow-listed, is refused once it is not."""
    user = new_user()
    async with service_factory() as allowed:
        browser = await allowed.subscribe(web_push, user)
    async with service_factory(allowed_targets=()) as guarded:
        event = created_event(user, priority=Priority.CRITICAL)
        await guarded.publish(event)
        await guarded.wait_state(notification_id(event), "failed")
        assert web_push.at(browser) == []
        assert len(await guarded.devices(user)) == 1  # refused by us, not gone at the service
        async with guarded.engine.connect() as conn:
            detail = (
                await conn.execute(
                    sa.select(tables.sends.c.detail).where(
                        tables.sends.c.notification_id == notification_id(event)
                    )
                )
            ).scalar_one()
        assert detail.startswith("blocked: 127.0.0.1 is a loopback address")
