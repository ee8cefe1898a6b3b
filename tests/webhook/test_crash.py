"""A consumer killed with SIGKILL in the middle of a batch loses nothing; a delivery in flight
at the kill may arrive twice, and then with the same `webhook-id` (receivers dedupe on it)."""

from __future__ import annotations

import uuid
from collections import Counter

import httpx

from contracts.topology import Topology
from tests.support.infra import free_port
from tests.support.processes import ServiceProcess
from tests.support.users import new_user
from tests.support.waiting import eventually
from tests.support.webhook_receiver import WebhookReceiver
from tests.support.webhook_service import (
    JWT_SECRET,
    RETRY_DELAYS_MS,
    created_event,
    publish_events,
    user_token,
    webhook_queues,
)

EVENTS = 40


def webhook_process(
    name: str, database_url: str, amqp_url: str, topology: Topology, receiver_port: int
) -> ServiceProcess:
    port = free_port()
    env = {
        "DATABASE_URL": database_url,
        "AMQP_URL": amqp_url,
        "TOCSIN_NAMESPACE": topology.namespace,
        "JWT_SECRET": JWT_SECRET,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "WEBHOOK_ALLOWED_PRIVATE_TARGETS": f"127.0.0.1:{receiver_port}",
        "WEBHOOK_RETRY_DELAYS_MS": ",".join(str(d) for d in RETRY_DELAYS_MS),
        "WEBHOOK_PREFETCH": "8",
        "WEBHOOK_TIMEOUT_S": "5",
    }
    return ServiceProcess.python_module(
        f"{name}-{uuid.uuid4().hex[:6]}",
        "services.webhook",
        env,
        health_url=f"http://127.0.0.1:{port}/readyz",
    )


async def test_kill_9_mid_batch_loses_nothing_and_duplicates_keep_their_webhook_id(
    database_url: str,
    amqp_url: str,
    topology: Topology,
    receiver: WebhookReceiver,
    broker_cleanup: list[str],
) -> None:
    broker_cleanup.extend(webhook_queues(topology))
    first = webhook_process(
        "webhook-first", database_url, amqp_url, topology, receiver.port
    ).start()
    second: ServiceProcess | None = None
    try:
        user = new_user()
        async with httpx.AsyncClient(base_url=first.health_url.removesuffix("/readyz")) as http:
            response = await http.post(
                "/api/v1/webhooks/endpoints",
                json={"url": receiver.url("batch")},
                headers=user_token(user),
            )
        assert response.status_code == 201, response.text
        receiver.secrets["batch"] = response.json()["secret"]
        receiver.default_delay_s = 0.05
        events = [created_event(user) for _ in range(EVENTS)]
        await publish_events(amqp_url, topology, events)

        await eventually(lambda: len(receiver.at("batch")) >= 5, what="the batch under way")
        first.kill()
        assert len(receiver.at("batch")) < EVENTS, "the batch finished before the kill"
        second = webhook_process(
            "webhook-second", database_url, amqp_url, topology, receiver.port
        ).start()

        expected = {e.event_id for e in events}
        await eventually(
            lambda: {r.webhook_id for r in receiver.at("batch") if r.replied == 200},
            lambda delivered: delivered >= expected,
            timeout=60,
            what="every event delivered after the restart",
        )
    finally:
        first.kill()
        if second is not None:
            second.stop()
    requests = receiver.at("batch")
    assert all(r.verified for r in requests)
    assert {r.webhook_id for r in requests} == expected
    duplicates = {i: n for i, n in Counter(r.webhook_id for r in requests).items() if n > 1}
    assert len(duplicates) <= 8, duplicates
    for request in requests:
        assert request.payload["data"]["event_id"] == request.webhook_id
