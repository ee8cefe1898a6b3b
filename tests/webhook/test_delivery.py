"""Delivery behaviour as an endpoint owner sees it: signed requests, retries, disabling,
idempotency and fan-out, against a real HTTP receiver, real RabbitMQ and real Postgres."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aio_pika.abc import AbstractQueue
from standardwebhooks.webhooks import Webhook

from contracts.events import Announcement, EventEnvelope, EventType, NotificationCreated
from contracts.headers import FORCE_HEADER, REPLAY_HEADER
from contracts.notifications import Channel
from observability.metrics import parse_metrics
from tests.support.users import new_user
from tests.support.waiting import eventually
from tests.support.webhook_receiver import Reply, WebhookReceiver
from tests.support.webhook_service import (
    WebhookService,
    created_event,
    drain,
    service_token,
    user_token,
)


async def test_receiver_verifies_the_delivery_with_the_standard_webhooks_library(
    service: WebhookService, receiver: WebhookReceiver, outcomes: AbstractQueue
) -> None:
    user = new_user()
    endpoint = await service.register(receiver, "hooks/a", user_token(user))
    event = created_event(user, title="<script>alert(1)</script> & friends")

    await service.publish(event)

    [request] = await eventually(lambda: receiver.at("hooks/a"), what="one delivery")
    assert request.verified
    assert request.webhook_id == event.event_id
    assert request.headers["content-type"] == "application/json"
    assert request.payload["type"] == "notification.created"
    assert request.payload["data"]["event_id"] == event.event_id
    notification = request.payload["data"]["data"]["notification"]
    assert notification["title"] == "<script>alert(1)</script> & friends"
    [outcome] = await drain(outcomes, 1)
    assert outcome.type == EventType.DELIVERY_SUCCEEDED
    assert outcome.data["target"] == endpoint["id"]
    assert outcome.data["notification_id"] == notification["id"]
    assert outcome.data["channel"] == "webhook"


async def test_500_500_200_records_three_attempts_and_one_success(
    service: WebhookService, receiver: WebhookReceiver, outcomes: AbstractQueue
) -> None:
    user = new_user()
    endpoint = await service.register(receiver, "flaky", user_token(user))
    receiver.script("flaky", 500, 500, 200)
    event = created_event(user)

    await service.publish(event)

    attempts = await eventually(
        lambda: service.attempts(endpoint["id"]),
        lambda seen: any(a["result"] == "succeeded" for a in seen),
        what="a successful attempt",
    )
    assert [(a["attempt"], a["result"], a["status_code"]) for a in attempts] == [
        (1, "retry", 500),
        (2, "retry", 500),
        (3, "succeeded", 200),
    ]
    assert all(a["duration_ms"] >= 0 for a in attempts)
    assert attempts[0]["error"] == "HTTP 500"
    requests = receiver.at("flaky")
    assert [r.replied for r in requests] == [500, 500, 200]
    assert {r.webhook_id for r in requests} == {event.event_id}
    assert all(r.verified for r in requests)
    [outcome] = await drain(outcomes, 1)
    assert outcome.type == EventType.DELIVERY_SUCCEEDED
    assert outcome.data["attempts"] == 3


async def test_410_gone_disables_the_endpoint_and_later_events_skip_it(
    service: WebhookService, receiver: WebhookReceiver, outcomes: AbstractQueue
) -> None:
    user = new_user()
    gone = await service.register(receiver, "gone", user_token(user))
    alive = await service.register(receiver, "alive", user_token(user))
    receiver.script("gone", 410)

    await service.publish(created_event(user))
    await eventually(lambda: receiver.at("alive"), what="first event at the live endpoint")
    state = await eventually(
        lambda: service.endpoint(gone["id"]), lambda e: not e["enabled"], what="disabled"
    )
    assert "410" in state["disabled_reason"]
    failed = [e for e in await drain(outcomes, 2) if e.type == EventType.DELIVERY_FAILED]
    assert [e.data["target"] for e in failed] == [gone["id"]]

    await service.publish(created_event(user))
    await eventually(lambda: len(receiver.at("alive")) == 2, what="second event delivered")
    assert len(receiver.at("gone")) == 1
    assert alive["id"] != gone["id"]


async def test_events_without_the_webhook_channel_are_not_delivered(
    service: WebhookService, receiver: WebhookReceiver
) -> None:
    user = new_user()
    await service.register(receiver, "prefs", user_token(user))
    opted_out = created_event(user, channels=[Channel.IN_APP, Channel.EMAIL])
    wanted = created_event(user)

    await service.publish(opted_out)
    await service.publish(wanted)

    await eventually(lambda: receiver.at("prefs"), what="the wanted event")
    assert [r.webhook_id for r in receiver.at("prefs")] == [wanted.event_id]


async def test_the_same_event_published_twice_is_delivered_once(
    service: WebhookService, receiver: WebhookReceiver
) -> None:
    user = new_user()
    endpoint = await service.register(receiver, "once", user_token(user))
    event = created_event(user)
    marker = created_event(user)

    await service.publish(event)
    await eventually(lambda: receiver.at("once"), what="first delivery")
    await service.publish(event)
    await service.publish(marker)

    await eventually(lambda: acked(service), lambda n: n >= 3, what="all three messages handled")
    await eventually(lambda: receiver.at("once")[1:], what="the marker event")
    ids = [r.webhook_id for r in receiver.at("once")]
    assert ids.count(event.event_id) == 1
    assert len(await service.attempts(endpoint["id"])) == 2


async def test_an_event_fans_out_to_the_users_endpoints_and_global_ones_only(
    service: WebhookService, receiver: WebhookReceiver
) -> None:
    alice, bob = new_user(), new_user()
    await service.register(receiver, "alice", user_token(alice))
    await service.register(receiver, "bob", user_token(bob))
    await service.register(receiver, "global", service_token(), scope="global")
    await service.register(
        receiver, "alice-reads", user_token(alice), event_types=["notification.read"]
    )
    event = created_event(alice)

    await service.publish(event)

    await eventually(
        lambda: receiver.at("alice") and receiver.at("global"), what="alice's and global"
    )
    bob_marker = created_event(bob)
    await service.publish(bob_marker)
    await eventually(lambda: receiver.at("bob"), what="bob's own event")
    assert [r.webhook_id for r in receiver.at("bob")] == [bob_marker.event_id]
    assert receiver.at("alice-reads") == []
    assert all(r.verified for r in receiver.received)


async def test_retry_after_is_honoured_before_the_next_attempt(
    service_factory: Callable[..., Any], receiver: WebhookReceiver
) -> None:
    async with service_factory(retry_delays_ms=(100, 200, 1500)) as service:
        user = new_user()
        endpoint = await service.register(receiver, "busy", user_token(user))
        receiver.script("busy", Reply(429, headers={"retry-after": "1"}), 200)

        await service.publish(created_event(user))

        attempts = await eventually(
            lambda: service.attempts(endpoint["id"]),
            lambda seen: len(seen) == 2,
            what="2 attempts",
        )
    assert [a["status_code"] for a in attempts] == [429, 200]
    first, second = (datetime.fromisoformat(a["at"]) for a in attempts)
    assert second - first >= timedelta(seconds=1), attempts


async def test_a_redirect_is_not_followed(
    service: WebhookService, receiver: WebhookReceiver
) -> None:
    user = new_user()
    endpoint = await service.register(receiver, "moved", user_token(user))
    receiver.script("moved", Reply(302, headers={"location": receiver.url("internal-admin")}))

    await service.publish(created_event(user))

    attempts = await eventually(
        lambda: service.attempts(endpoint["id"]), what="the redirect attempt"
    )
    assert [(a["status_code"], a["result"]) for a in attempts] == [(302, "failed")]
    assert receiver.at("internal-admin") == []


async def test_a_replay_skips_what_was_delivered_and_a_forced_replay_sends_it_again(
    service: WebhookService, receiver: WebhookReceiver
) -> None:
    user = new_user()
    endpoint = await service.register(receiver, "replayed", user_token(user))
    event = created_event(user)
    await service.publish(event)
    await eventually(lambda: receiver.at("replayed"), what="the first delivery")

    await service.publish(event, headers={REPLAY_HEADER: True})
    await eventually(lambda: acked(service), lambda n: n >= 2, what="the replay handled")
    assert len(receiver.at("replayed")) == 1

    await service.publish(event, headers={REPLAY_HEADER: True, FORCE_HEADER: True})

    await eventually(lambda: acked(service), lambda n: n >= 3, what="the forced replay handled")
    assert [r.webhook_id for r in receiver.at("replayed")] == [event.event_id] * 2
    attempts = await service.attempts(endpoint["id"])
    assert [a["result"] for a in attempts] == ["succeeded", "succeeded"]


async def acked(service: WebhookService) -> float:
    text = (await service.http.get("/metrics")).text
    return parse_metrics(text).get('tocsin_webhook_messages_total{outcome="acked",reason=""}', 0)


async def test_a_receiver_slower_than_the_timeout_is_retried(
    service_factory: Callable[..., Any], receiver: WebhookReceiver
) -> None:
    async with service_factory(timeout_s=0.5) as service:
        user = new_user()
        endpoint = await service.register(receiver, "slow", user_token(user))
        receiver.script("slow", Reply(200, delay_s=2.0), 200)

        await service.publish(created_event(user))

        attempts = await eventually(
            lambda: service.attempts(endpoint["id"]),
            lambda seen: any(a["result"] == "succeeded" for a in seen),
            what="success after a timeout",
        )
    assert [(a["result"], a["status_code"]) for a in attempts] == [
        ("retry", None),
        ("succeeded", 200),
    ]
    assert "timeout" in attempts[0]["error"]


async def test_a_huge_response_body_is_not_read_past_the_cap(
    service_factory: Callable[..., Any], receiver: WebhookReceiver
) -> None:
    async with service_factory(max_response_bytes=4096) as service:
        user = new_user()
        endpoint = await service.register(receiver, "chatty", user_token(user))
        receiver.script("chatty", Reply(200, body=b"x" * 5_000_000))

        await service.publish(created_event(user))

        [attempt] = await eventually(lambda: service.attempts(endpoint["id"]), what="the attempt")
    assert attempt["result"] == "succeeded"
    assert attempt["response_excerpt"] is None  # a private target's answer is never stored


async def test_two_consumer_copies_handling_the_same_event_at_once_send_it_once(
    service_factory: Callable[..., Any], receiver: WebhookReceiver
) -> None:
    async with service_factory(prefetch=1) as first, service_factory(prefetch=1) as second:
        user = new_user()
        endpoint = await first.register(receiver, "shared", user_token(user))
        receiver.script("shared", Reply(200, delay_s=0.5))
        event = created_event(user)

        await first.publish(event)
        await second.publish(event)

        await eventually(
            lambda: asyncio.gather(acked(first), acked(second)),
            lambda counts: sum(counts) >= 2,
            what="both copies of the event handled",
        )
        attempts = await first.attempts(endpoint["id"])
    assert [r.webhook_id for r in receiver.at("shared")] == [event.event_id]
    assert [a["result"] for a in attempts] == ["succeeded"]


async def test_after_a_secret_rotation_both_the_old_and_the_new_secret_verify(
    service: WebhookService, receiver: WebhookReceiver
) -> None:
    user = new_user()
    endpoint = await service.register(receiver, "rotating", user_token(user))
    old_secret = receiver.secrets["rotating"]
    response = await service.http.post(
        f"/api/v1/webhooks/endpoints/{endpoint['id']}/secret/rotate", headers=user_token(user)
    )
    assert response.status_code == 200, response.text
    new_secret = response.json()["secret"]
    assert new_secret.startswith("whsec_") and new_secret != old_secret

    await service.publish(created_event(user))
    [request] = await eventually(lambda: receiver.at("rotating"), what="a delivery")

    assert request.verified  # with the old secret, which the receiver still holds
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    Webhook(new_secret).verify(request.body, request.headers)


async def test_a_broadcast_goes_to_subscribed_global_endpoints_only(
    service: WebhookService, receiver: WebhookReceiver
) -> None:
    user = new_user()
    await service.register(receiver, "user-all", user_token(user), event_types=["*"])
    await service.register(
        receiver,
        "global-broadcasts",
        service_token(),
        scope="global",
        event_types=["notification.broadcast"],
    )
    created = created_event(user)
    broadcast = EventEnvelope(
        event_id=str(uuid.uuid4()),
        type=EventType.NOTIFICATION_BROADCAST,
        occurred_at=datetime.now(UTC),
        user_id="*",
        data=Announcement(
            notification=NotificationCreated.model_validate(created.data).notification
        ).model_dump(mode="json"),
    )

    await service.publish(broadcast)
    await service.publish(created)

    [request] = await eventually(lambda: receiver.at("global-broadcasts"), what="the broadcast")
    assert request.verified and request.webhook_id == broadcast.event_id
    assert request.payload["type"] == "notification.broadcast"
    await eventually(lambda: receiver.at("user-all"), what="the user's own event")
    assert [r.webhook_id for r in receiver.at("user-all")] == [created.event_id]


async def test_a_retry_re_sends_only_to_the_endpoint_that_failed(
    service: WebhookService, receiver: WebhookReceiver
) -> None:
    user = new_user()
    flaky = await service.register(receiver, "flaky-one", user_token(user))
    await service.register(receiver, "steady-one", user_token(user))
    receiver.script("flaky-one", 503, 503)
    event = created_event(user)

    await service.publish(event)

    await eventually(
        lambda: service.attempts(flaky["id"]),
        lambda seen: [a["result"] for a in seen] == ["retry", "retry", "succeeded"],
        what="the flaky endpoint delivered on its third attempt",
    )
    assert [r.replied for r in receiver.at("flaky-one")] == [503, 503, 200]
    assert [r.webhook_id for r in receiver.at("steady-one")] == [event.event_id]
