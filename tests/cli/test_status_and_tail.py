"""`tocsin status` exit codes as scripts use them, and `tocsin events tail` following events."""

from __future__ import annotations

import asyncio
import os
import uuid

import aio_pika

from contracts.events import EventEnvelope, EventType, utc_now
from contracts.topology import Topology, routing_key
from messaging.publisher import envelope_message, publish_confirmed
from tests.cli.eventstore import EventStore
from tests.support.cli import TOCSIN, Cli, CliResult
from tests.support.infra import free_port
from tests.support.users import new_user

LAG_OK = ["--max-relay-lag", "315360000"]  # ten years: other tests' pending rows do not count


async def test_status_is_healthy_when_queues_are_declared_and_nothing_waits(
    cli: Cli, declared: Topology
) -> None:
    result = await cli("status", *LAG_OK)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert declared.queue("email") in result.stdout
    assert "healthy" in result.stdout


async def test_status_fails_when_queues_are_not_declared(cli: Cli) -> None:
    result = await cli("status", *LAG_OK)
    assert result.exit_code == 1
    assert "is not declared" in result.stdout


async def test_status_fails_when_events_wait_for_a_stopped_relay(
    cli: Cli, declared: Topology, store: EventStore
) -> None:
    await store.add(EventType.NOTIFICATION_CREATED, new_user("lag"), published=False)
    result = await cli("status", "--max-relay-lag", "60")
    assert result.exit_code == 1
    assert "relay lag" in result.stdout
    assert "relay lanes: urgent oldest" in result.stdout
    assert "normal oldest" in result.stdout


async def test_status_fails_when_a_service_is_not_ready(cli: Cli, declared: Topology) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = await cli("status", *LAG_OK, "--service", f"email={url}")
    assert result.exit_code == 1
    assert "email is not ready" in result.stdout


async def test_status_fails_when_messages_wait_without_a_consumer(
    cli: Cli, declared: Topology, amqp_connection: aio_pika.abc.AbstractRobustConnection
) -> None:
    channel = await amqp_connection.channel(publisher_confirms=True)
    await publish_confirmed(
        channel.default_exchange, aio_pika.Message(b"{}"), declared.queue("webhook")
    )
    result = await cli("status", *LAG_OK)
    assert result.exit_code == 1
    assert "has no consumer" in result.stdout


async def test_events_tail_prints_live_events_of_the_chosen_user_only(
    cli: Cli, declared: Topology, amqp_connection: aio_pika.abc.AbstractRobustConnection
) -> None:
    watched, other = new_user("tail"), new_user("tail")
    process = await asyncio.create_subprocess_exec(
        TOCSIN,
        "events",
        "tail",
        "--user",
        watched,
        "--count",
        "1",
        env={**os.environ, **cli.env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stderr is not None
        banner = await asyncio.wait_for(process.stderr.readline(), 30)
        assert b"following events" in banner
        channel = await amqp_connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(declared.events_exchange)
        events = [_event(other), _event(watched)]
        for event in events:
            await publish_confirmed(
                exchange, envelope_message(event), routing_key(event.type, event.user_id)
            )
        out, _ = await asyncio.wait_for(process.communicate(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    result = CliResult(process.returncode or 0, out.decode(), "")
    assert result.exit_code == 0
    assert events[1].event_id in result.stdout
    assert other not in result.stdout


def _event(user_id: str) -> EventEnvelope:
    return EventEnvelope(
        event_id=str(uuid.uuid4()),
        type=EventType.NOTIFICATION_CREATED,
        occurred_at=utc_now(),
        user_id=user_id,
        seq=1,
        data={},
    )
