"""When a push goes: after the unread delay, never once read or deleted, at once when
critical, once only across restarts and copies, and never when the person opted out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import aio_pika
import pytest

from contracts.events import EventType
from contracts.notifications import Channel, Priority
from contracts.topology import routing_key
from messaging.publisher import publish_confirmed
from tests.push.servers import WebPushService
from tests.support.push_service import PushService, created_event, notification_id, user_event
from tests.support.users import new_user
from tests.support.waiting import eventually

DELAY_S = 1.5


def ids_at(web_push: WebPushService, browser: Any) -> list[str]:
    return [p.payload["id"] for p in web_push.at(browser)]


async def test_unread_after_the_delay_is_pushed_not_before(
    service_factory: Callable[..., Any], web_push: WebPushService
) -> None:
    async with service_factory(delay_s=DELAY_S) as service:
        user = new_user()
        browser = await service.subscribe(web_push, user)
        event = created_event(user, priority=Priority.NORMAL)
        await service.publish(event)
        await service.wait_state(notification_id(event), "waiting")
        await service.wait_state(notification_id(event), "sent")
        [push] = web_push.at(browser)
        created = datetime.fromisoformat(event.data["notification"]["created_at"])
        assert datetime.fromisoformat(push.payload["created_at"]) == created
        assert push.headers["urgency"] == "normal"
        # It waited for the delay: the push service saw it no earlier than DELAY_S after
        # the notification's creation (both clocks are this machine's).
        arrived = datetime.fromisoformat(push.headers["x-test-arrived-at"])
        assert (arrived - created).total_seconds() >= DELAY_S


@pytest.mark.parametrize("cancel", ["read", "read_all", "deleted"])
async def test_read_or_deleted_before_the_delay_is_never_pushed(
    service_factory: Callable[..., Any], web_push: WebPushService, cancel: str
) -> None:
    async with service_factory(delay_s=DELAY_S) as service:
        user = new_user()
        browser = await service.subscribe(web_push, user)
        read_in_time = created_event(user, priority=Priority.HIGH)
        nid = notification_id(read_in_time)
        await service.publish(read_in_time)
        await service.wait_state(nid, "waiting")
        if cancel == "read":
            await service.publish(user_event(user, EventType.NOTIFICATION_READ, {"id": nid}))
        elif cancel == "read_all":
            await service.publish(user_event(user, EventType.NOTIFICATION_READ_ALL, {"ids": [nid]}))
        else:
            await service.publish(user_event(user, EventType.NOTIFICATION_DELETED, {"id": nid}))
        await service.wait_state(nid, "cancelled")
        # A later notification with the same delay is due after the cancelled one: once it
        # has been pushed, the timers have gone past the cancelled one's due time.
        later = created_event(user, priority=Priority.HIGH, entity=("incident", "later"))
        await service.publish(later)
        await service.wait_state(notification_id(later), "sent")
        assert ids_at(web_push, browser) == [notification_id(later)]


async def test_a_read_that_overtakes_its_create_cancels_it(
    service_factory: Callable[..., Any], web_push: WebPushService
) -> None:
    async with service_factory(delay_s=DELAY_S) as service:
        user = new_user()
        browser = await service.subscribe(web_push, user)
        event = created_event(user, priority=Priority.CRITICAL)
        nid = notification_id(event)
        read = user_event(user, EventType.NOTIFICATION_READ, {"id": nid})
        await service.publish(read)
        await service.seen(read)
        await service.publish(event)
        await service.seen(event)
        marker = created_event(user, priority=Priority.CRITICAL, entity=("incident", "m"))
        await service.publish(marker)
        await service.wait_state(notification_id(marker), "sent")
        assert await service.push_state(nid) == "cancelled"
        assert ids_at(web_push, browser) == [notification_id(marker)]


async def test_critical_goes_at_once_to_every_device_despite_the_delay(
    service_factory: Callable[..., Any], web_push: WebPushService
) -> None:
    async with service_factory(delay_s=3600) as service:
        user = new_user()
        browsers = [await service.subscribe(web_push, user) for _ in range(3)]
        event = created_event(user, priority=Priority.CRITICAL)
        await service.publish(event)
        await service.wait_state(notification_id(event), "sent")
        assert [ids_at(web_push, b) for b in browsers] == [[notification_id(event)]] * 3


async def test_a_restart_during_the_delay_still_pushes_exactly_once(
    service_factory: Callable[..., Any], web_push: WebPushService
) -> None:
    user = new_user()
    async with service_factory(delay_s=DELAY_S) as first:
        browser = await first.subscribe(web_push, user)
        event = created_event(user, priority=Priority.NORMAL)
        await first.publish(event)
        await first.wait_state(notification_id(event), "waiting")
    # The only copy is gone while the push waits; two new copies share the timers.
    async with service_factory(delay_s=DELAY_S) as second, service_factory(delay_s=DELAY_S):
        await second.wait_state(notification_id(event), "sent")
        marker = created_event(user, priority=Priority.NORMAL, entity=("incident", "m"))
        await second.publish(marker)
        await second.wait_state(notification_id(marker), "sent")
    assert sorted(ids_at(web_push, browser)) == sorted(
        [notification_id(event), notification_id(marker)]
    )


@pytest.mark.parametrize(
    ("overrides", "priority", "type_"),
    [
        ({}, Priority.HIGH, "incident_created"),  # no push channel in the event
        ({"delay_by_priority": {"low": -1}}, Priority.LOW, "incident_created"),
        ({"delay_by_type": {"digest": -1}}, Priority.HIGH, "digest"),
    ],
)
async def test_opted_out_or_never_pushed_types_are_not_pushed(
    service_factory: Callable[..., Any],
    web_push: WebPushService,
    overrides: dict[str, Any],
    priority: Priority,
    type_: str,
) -> None:
    async with service_factory(delay_s=0, **overrides) as service:
        user = new_user()
        browser = await service.subscribe(web_push, user)
        channels = [Channel.IN_APP] if not overrides else [Channel.IN_APP, Channel.PUSH]
        quiet = created_event(user, priority=priority, channels=channels, type_=type_)
        await service.publish(quiet)
        await service.seen(quiet)
        marker = created_event(user, priority=Priority.CRITICAL, entity=("incident", "m"))
        await service.publish(marker)
        await service.wait_state(notification_id(marker), "sent")
        assert await service.push_state(notification_id(quiet)) is None
        assert ids_at(web_push, browser) == [notification_id(marker)]


async def test_an_event_that_does_not_fit_is_dead_lettered(
    service: PushService, amqp_connection: Any, topology: Any
) -> None:
    channel = await amqp_connection.channel(publisher_confirms=True)
    exchange = await channel.get_exchange(topology.events_exchange)
    body = (
        b'{"event_id": "x", "type": "notification.created", '
        b'"occurred_at": "2026-01-01T00:00:00Z", "user_id": "u", "data": {"nope": 1}}'
    )
    await publish_confirmed(
        exchange,
        aio_pika.Message(body, content_type="application/json", message_id="x"),
        routing_key("notification.created", "u"),
    )
    dlq = await channel.declare_queue(topology.dead_letter_queue("push"), passive=True)
    message = await eventually(
        lambda: dlq.get(no_ack=True, fail=False), lambda m: m is not None, what="dead letter"
    )
    assert message.headers["x-tocsin-reason"] == "invalid_event"
