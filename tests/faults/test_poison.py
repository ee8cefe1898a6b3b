"""A poison message in each consumer queue (email, webhook, delivery outcomes, incidents) ends
in that queue's dead-letter queue with a reason, while the queue keeps flowing; the realtime
instance drops one and keeps serving its sockets."""

from __future__ import annotations

from collections.abc import Callable

import aio_pika
import httpx

from contracts.topology import routing_key
from tests.support.burst import email_ids, open_tabs, socket_ids, webhook_ids
from tests.support.system import System
from tests.support.users import new_user
from tests.support.waiting import eventually

POISONS = [b"{not json", b"\x00\xff\xfe", b'{"type": "notification.created"}', b"[]", b"null"]
REASON_HEADER = "x-tocsin-reason"


async def test_poison_in_every_queue_is_dead_lettered_with_a_reason_and_the_queue_flows(
    start_system: Callable[..., System],
) -> None:
    system = start_system(notification_env={"INCIDENTS_ENABLED": "true"})
    topology = system.topology
    user = new_user("poison")
    system.subscribe(user)
    system.register_webhook(user)
    [tab] = (await open_tabs(system, [user])).values()
    connection = await aio_pika.connect(system.amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        events = await channel.get_exchange(topology.events_exchange)
        incidents = await channel.get_exchange(topology.incidents_exchange)
        for body in POISONS:
            for exchange, key in (
                (events, routing_key("notification.created", user)),
                (events, routing_key("delivery.succeeded", user)),
                (incidents, "incident.created"),
            ):
                await exchange.publish(
                    aio_pika.Message(body, content_type="application/json", message_id="poison"),
                    key,
                )

        async with httpx.AsyncClient(timeout=10) as http:
            created = await http.post(
                f"{system.api_url}/api/v1/notifications",
                json={"recipients": [user], "type": "incident_created", "priority": "high",
                      "title": "after the poison"},
                headers=system.service_headers(),
            )  # fmt: skip
        assert created.status_code == 201, created.text
        notification_id = created.json()["notifications"][0]["id"]
        await eventually(lambda: socket_ids(tab), lambda ids: notification_id in ids,
                         timeout=60, what="the socket still served")  # fmt: skip
        await eventually(lambda: email_ids(system), lambda ids: notification_id in ids,
                         timeout=60, what="the email queue still flowing")  # fmt: skip
        await eventually(lambda: webhook_ids(system), lambda ids: notification_id in ids,
                         timeout=60, what="the webhook queue still flowing")  # fmt: skip

        for consumer in ("email", "webhook", "notification-deliveries", "notification-incidents"):
            dlq = await channel.declare_queue(topology.dead_letter_queue(consumer), passive=True)
            reasons: list[str] = []

            async def drained(
                queue: aio_pika.abc.AbstractQueue = dlq, reasons: list[str] = reasons
            ) -> int:
                while (message := await queue.get(fail=False, no_ack=True)) is not None:
                    reasons.append(str((message.headers or {}).get(REASON_HEADER)))
                return len(reasons)

            await eventually(
                drained, lambda n: n >= len(POISONS), timeout=60, what=f"poison in {consumer} DLQ"
            )
            assert all(r and r != "None" for r in reasons), (consumer, reasons)
    finally:
        await connection.close()
        await tab.connection.close()
