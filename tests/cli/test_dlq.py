"""`tocsin dlq`: dead letters are listed without being consumed, requeued with a fresh attempt
count, and purged only after confirmation."""

from __future__ import annotations

import asyncio
import uuid

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from contracts.events import EventEnvelope, EventType, utc_now
from contracts.headers import ATTEMPT_HEADER, REASON_HEADER
from contracts.topology import Topology
from messaging.consuming import PermanentFailure, RetryingConsumer
from messaging.publisher import envelope_message, publish_confirmed
from tests.support.cli import Cli
from tests.support.queues import depth, queue_messages
from tests.support.users import new_user
from tests.support.waiting import eventually
from tocsin_cli import registry


def _event(user_id: str) -> EventEnvelope:
    return EventEnvelope(
        event_id=str(uuid.uuid4()),
        type=EventType.NOTIFICATION_CREATED,
        occurred_at=utc_now(),
        user_id=user_id,
        seq=1,
        data={"poison": True},
    )


async def _dead_letter(
    connection: aio_pika.abc.AbstractConnection, topology: Topology, reason: str, attempt: int
) -> str:
    channel = await connection.channel(publisher_confirms=True)
    event = _event(new_user("user"))
    message = envelope_message(event, {REASON_HEADER: reason, ATTEMPT_HEADER: attempt})
    await publish_confirmed(channel.default_exchange, message, topology.dead_letter_queue("email"))
    await channel.close()
    return event.event_id


async def test_list_and_show_report_reason_and_attempts_and_leave_messages_in_place(
    cli: Cli, declared: Topology, amqp_connection: aio_pika.abc.AbstractRobustConnection
) -> None:
    first = await _dead_letter(amqp_connection, declared, "smtp_rejected", 5)
    second = await _dead_letter(amqp_connection, declared, "invalid_message", 1)

    listed = await cli("dlq", "list", "--consumer", "email")
    assert listed.exit_code == 0, listed.stderr
    assert first in listed.stdout and second in listed.stdout
    assert "smtp_rejected" in listed.stdout and "invalid_message" in listed.stdout
    assert "2 dead letters" in listed.stdout

    shown = await cli("dlq", "show", "--consumer", "email", "--id", first)
    assert shown.exit_code == 0, shown.stderr
    assert "reason: smtp_rejected" in shown.stdout and "attempts: 5" in shown.stdout
    assert '"poison": true' in shown.stdout

    assert await depth(amqp_connection, declared.dead_letter_queue("email")) == 2


async def test_requeue_moves_only_the_chosen_message_with_attempt_reset(
    cli: Cli, declared: Topology, amqp_connection: aio_pika.abc.AbstractRobustConnection
) -> None:
    chosen = await _dead_letter(amqp_connection, declared, "smtp_unavailable", 6)
    other = await _dead_letter(amqp_connection, declared, "smtp_unavailable", 6)

    result = await cli("dlq", "requeue", "--consumer", "email", "--id", chosen)
    assert result.exit_code == 0, result.stderr
    assert "requeued: 1" in result.stdout

    moved = await queue_messages(amqp_connection, declared.queue("email"))
    assert [m.message_id for m in moved] == [chosen]
    headers = moved[0].headers or {}
    assert headers[ATTEMPT_HEADER] == 1
    assert REASON_HEADER not in headers
    remaining = await queue_messages(amqp_connection, declared.dead_letter_queue("email"))
    assert [m.message_id for m in remaining] == [other]


async def test_requeue_makes_a_fixed_poison_message_succeed(
    cli: Cli, declared: Topology, amqp_connection: aio_pika.abc.AbstractRobustConnection
) -> None:
    """A handler that rejects a message until its bug is fixed: the message waits in the DLQ,
    and `dlq requeue --all` after the fix gets it handled exactly once."""
    fixed = False
    handled: list[str] = []

    async def handler(message: AbstractIncomingMessage, attempt: int) -> None:
        if not fixed:
            raise PermanentFailure("template_error", "unknown variable 'nme'")
        handled.append(message.message_id or "")

    channel = await amqp_connection.channel(publisher_confirms=True)
    spec = registry.consumer_spec("email", declared)
    queue = await channel.declare_queue(declared.queue("email"), passive=True)
    consumer = RetryingConsumer(channel, declared, spec, handler)
    tag = await queue.consume(consumer)
    event = _event("poisoned-user")
    await publish_confirmed(channel.default_exchange, envelope_message(event), queue.name)
    await eventually(
        lambda: depth(amqp_connection, declared.dead_letter_queue("email")),
        lambda n: n == 1,
        what="the poison message in the DLQ",
    )
    listed = await cli("dlq", "list", "--consumer", "email")
    assert "template_error" in listed.stdout

    fixed = True
    result = await cli("dlq", "requeue", "--consumer", "email", "--all")
    assert result.exit_code == 0, result.stderr
    await eventually(lambda: handled, lambda h: h == [event.event_id], what="handled once")
    assert await depth(amqp_connection, declared.dead_letter_queue("email")) == 0
    await queue.cancel(tag)
    await asyncio.sleep(0)


async def test_purge_asks_first_and_deletes_only_when_confirmed(
    cli: Cli, declared: Topology, amqp_connection: aio_pika.abc.AbstractRobustConnection
) -> None:
    dlq = declared.dead_letter_queue("email")
    keep = await _dead_letter(amqp_connection, declared, "a", 1)
    drop = await _dead_letter(amqp_connection, declared, "b", 1)

    declined = await cli("dlq", "purge", "--consumer", "email", input="n\n")
    assert declined.exit_code != 0
    assert await depth(amqp_connection, dlq) == 2

    one = await cli("dlq", "purge", "--consumer", "email", "--id", drop, "--yes")
    assert one.exit_code == 0, one.stderr
    assert "purged: 1" in one.stdout
    assert [m.message_id for m in await queue_messages(amqp_connection, dlq)] == [keep]

    await _dead_letter(amqp_connection, declared, "c", 1)
    everything = await cli("dlq", "purge", "--consumer", "email", input="y\n")
    assert everything.exit_code == 0, everything.stderr
    assert await depth(amqp_connection, dlq) == 0
