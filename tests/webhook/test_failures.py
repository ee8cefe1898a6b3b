"""What happens when delivery cannot succeed: refused addresses, poison messages, endpoints
that keep failing, retries that run out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aio_pika.abc import AbstractRobustConnection

from contracts.events import EventType
from contracts.topology import Topology, routing_key
from messaging.consuming import REASON_HEADER
from tests.support.users import new_user
from tests.support.waiting import eventually
from tests.support.webhook_receiver import WebhookReceiver
from tests.support.webhook_service import WebhookService, created_event, user_token


async def test_loopback_urls_are_refused_at_registration_unless_allowed(
    service_factory: Callable[..., Any], receiver: WebhookReceiver
) -> None:
    async with service_factory(allowed_private_targets="") as service:
        headers = user_token(new_user())
        for url in (
            receiver.url("x"),
            f"http://localhost:{receiver.port}/x",
            "http://[::1]/x",
            "http://169.254.169.254/latest/meta-data",
            "http://10.1.2.3/x",
            "http://100.64.0.1/x",
        ):
            response = await service.http.post(
                "/api/v1/webhooks/endpoints", json={"url": url}, headers=headers
            )
            assert response.status_code == 422, (url, response.text)
            assert response.json()["error"]["code"] == "url_not_allowed", url
        response = await service.http.post(
            "/api/v1/webhooks/endpoints", json={"url": "ftp://example.com/x"}, headers=headers
        )
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "invalid_url"
    async with service_factory() as service:
        await service.register(receiver, "allowed", user_token(new_user()))


async def test_a_name_resolving_to_loopback_is_refused_at_connect_time(
    service_factory: Callable[..., Any], receiver: WebhookReceiver
) -> None:
    """The endpoint was registered where private networks were allowed (an API-only copy);
    the consumer that does not allow them resolves `localhost`, refuses, and sends nothing."""
    user = new_user()
    async with service_factory(consumer_enabled=False) as api_only:
        response = await api_only.http.post(
            "/api/v1/webhooks/endpoints",
            json={"url": receiver.url("rebound")},
            headers=user_token(user),
        )
        assert response.status_code == 201, response.text
        endpoint = response.json()
    async with service_factory(allowed_private_targets="") as service:
        await service.publish(created_event(user))
        attempts = await eventually(
            lambda: service.attempts(endpoint["id"]), what="the refused attempt"
        )
    assert len(attempts) == 1
    assert attempts[0]["result"] == "failed"
    assert attempts[0]["status_code"] is None
    assert "loopback" in attempts[0]["error"]
    assert receiver.received == []


async def test_a_poison_message_is_dead_lettered_with_its_reason_and_does_not_block(
    service: WebhookService,
    receiver: WebhookReceiver,
    amqp_connection: AbstractRobustConnection,
    topology: Topology,
) -> None:
    user = new_user()
    await service.register(receiver, "after-poison", user_token(user))
    await service.publish_raw(b"{not json", routing_key(EventType.NOTIFICATION_CREATED, user))
    await service.publish_raw(
        b'{"event_id": "x", "type": "notification.created", "occurred_at": "2026-01-01T00:00:00Z",'
        b' "user_id": "u", "data": {"notification": {}}}',
        routing_key(EventType.NOTIFICATION_CREATED, user),
    )
    good = created_event(user)
    await service.publish(good)

    await eventually(lambda: receiver.at("after-poison"), what="the good event")
    channel = await amqp_connection.channel()
    dlq = await channel.declare_queue(topology.dead_letter_queue("webhook"), passive=True)
    reasons: list[str] = []

    async def read() -> int:
        while (message := await dlq.get(no_ack=True, fail=False)) is not None:
            reasons.append(str((message.headers or {}).get(REASON_HEADER)))
        return len(reasons)

    await eventually(read, lambda n: n >= 2, what="two dead-lettered messages")
    assert reasons == ["invalid_event", "invalid_event"]
    assert [r.webhook_id for r in receiver.at("after-poison")] == [good.event_id]


async def test_an_endpoint_failing_for_longer_than_the_period_is_disabled(
    service_factory: Callable[..., Any], receiver: WebhookReceiver
) -> None:
    async with service_factory(disable_after_s=0.2, retry_delays_ms=(150, 150, 150)) as service:
        user = new_user()
        endpoint = await service.register(receiver, "down", user_token(user))
        receiver.script("down", *([503] * 10))

        await service.publish(created_event(user))

        state = await eventually(
            lambda: service.endpoint(endpoint["id"]),
            lambda e: not e["enabled"],
            what="the endpoint disabled",
        )
        assert "failing since" in state["disabled_reason"]
        attempts = await service.attempts(endpoint["id"])
        assert attempts[-1]["result"] == "failed"
        assert 2 <= len(attempts) <= 4

        await service.publish(created_event(user))
        later = created_event(user)
        other = await service.register(receiver, "up", user_token(user))
        await service.publish(later)
        await eventually(lambda: receiver.at("up"), what="a later event at a healthy endpoint")
        assert len(await service.attempts(endpoint["id"])) == len(attempts)
        assert other["enabled"]


async def test_when_retries_run_out_the_delivery_fails_and_the_outcome_says_so(
    service: WebhookService, receiver: WebhookReceiver, outcomes: Any
) -> None:
    from tests.support.webhook_service import drain

    user = new_user()
    endpoint = await service.register(receiver, "never", user_token(user))
    receiver.script("never", *([500] * 10))

    await service.publish(created_event(user))

    [outcome] = await drain(outcomes, 1)
    assert outcome.type == EventType.DELIVERY_FAILED
    assert outcome.data["attempts"] == 4
    assert "retries exhausted" in outcome.data["detail"]
    attempts = await service.attempts(endpoint["id"])
    assert [a["result"] for a in attempts] == ["retry", "retry", "retry", "failed"]
    assert len(receiver.at("never")) == 4


async def test_a_4xx_other_than_410_and_429_fails_that_endpoint_at_once(
    service: WebhookService, receiver: WebhookReceiver, outcomes: Any
) -> None:
    from tests.support.webhook_service import drain

    user = new_user()
    rejecting = await service.register(receiver, "rejects", user_token(user))
    healthy = await service.register(receiver, "healthy", user_token(user))
    receiver.script("rejects", 400)

    await service.publish(created_event(user))

    events = await drain(outcomes, 2)
    by_target = {e.data["target"]: e for e in events}
    assert by_target[rejecting["id"]].type == EventType.DELIVERY_FAILED
    assert by_target[rejecting["id"]].data["detail"] == "HTTP 400"
    assert by_target[healthy["id"]].type == EventType.DELIVERY_SUCCEEDED
    assert len(receiver.at("rejects")) == 1
    assert (await service.endpoint(rejecting["id"]))["enabled"] is True
