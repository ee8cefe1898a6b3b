"""Incident events published on RabbitMQ become notifications for the right people, once."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import aio_pika
import jsonschema
from aio_pika.abc import AbstractRobustConnection
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.incidents import IncidentEvent, Severity
from contracts.topology import Topology
from database.engine import create_engine
from database.outages import is_outage
from messaging.consuming import REASON_HEADER
from messaging.incidents import IncidentPublisher, incident_message
from messaging.publisher import publish_confirmed
from services.notification.incidents.batching import IngestBatcher
from services.notification.incidents.ingest import (
    IngestResult,
    NoRecipients,
    ingest,
    ingest_batch,
)
from services.notification.incidents.rules import load_rules
from tests.incidents.samples import sample_assigned_event, sample_created_event
from tests.support.incident_consumer import (
    Outcomes,
    dead_letters,
    notifications_about,
    raw_message,
    wait_for_notifications,
)
from tests.support.infra import free_port
from tests.support.waiting import eventually

SCHEMAS = Path(__file__).parents[2] / "contracts" / "schemas"


async def test_created_event_from_the_publisher_notifies_watchers_and_team_but_not_the_actor(
    consumer: Outcomes, publisher: IncidentPublisher, engine: AsyncEngine
) -> None:
    event = sample_created_event(watchers=2, team=2)
    await publisher.publish(event)

    rows = await wait_for_notifications(engine, event.incident.id, 4)
    expected = {p.id for p in [*event.watchers, *event.team_members]} - {event.actor.id}  # type: ignore[union-attr]
    assert {r["user_id"] for r in rows} == expected
    assert len(rows) == 4
    assert {r["type"] for r in rows} == {"incident_created"}
    assert {r["priority"] for r in rows} == {"high"}
    first = rows[0]
    assert first["entity_type"] == "incident"
    assert first["entity_url"] == event.incident.url
    assert event.incident.key in first["title"]


async def test_event_built_from_the_json_schema_with_raw_aio_pika_is_ingested(
    consumer: Outcomes,
    amqp_connection: AbstractRobustConnection,
    topology: Topology,
    engine: AsyncEngine,
) -> None:
    """A foreign producer sees only the schema file, and may speak a newer minor version."""
    schema = json.loads((SCHEMAS / "incident.created.schema.json").read_text())
    incident_id = f"inc-{uuid.uuid4().hex}"
    event_id = str(uuid.uuid4())
    watcher, member, actor = (f"{r}-{uuid.uuid4().hex[:8]}" for r in ("w", "t", "a"))
    body = {
        "type": "incident.created",
        "schema_version": "1.4",
        "event_id": event_id,
        "occurred_at": datetime.now(UTC).isoformat(),
        "incident": {
            "id": incident_id,
            "key": "INC-2024-001",
            "title": "Payments failing in eu-west",
            "severity": "sev1",
            "status": "open",
            "url": f"https://tracker.example/incidents/{incident_id}",
            "region": "eu-west",  # a field from a newer minor version
        },
        "actor": {"id": actor},
        "watchers": [{"id": watcher, "email": "w@example.com"}, {"id": actor}],
        "team_members": [{"id": member, "name": "Team Member"}],
        "runbook": "https://runbooks.example/payments",  # another newer-minor field
    }
    jsonschema.Draft202012Validator(schema).validate(body)

    channel = await amqp_connection.channel(publisher_confirms=True)
    exchange = await channel.get_exchange(topology.incidents_exchange)
    message = aio_pika.Message(
        body=json.dumps(body).encode(),
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=event_id,
        type="incident.created",
    )
    await exchange.publish(message, routing_key="incident.created", mandatory=True)
    await channel.close()

    rows = await wait_for_notifications(engine, incident_id, 2)
    assert {r["user_id"] for r in rows} == {watcher, member}
    assert {r["priority"] for r in rows} == {"critical"}


async def test_the_same_event_twice_creates_its_notifications_once(
    consumer: Outcomes, publisher: IncidentPublisher, engine: AsyncEngine
) -> None:
    event = sample_created_event(watchers=1, team=1)
    await publisher.publish(event)
    await publisher.publish(event)

    await eventually(
        lambda: consumer.of(event.event_id),
        lambda outcomes: outcomes == ["acked", "acked"],
        what="both copies handled",
    )
    assert len(await notifications_about(engine, event.incident.id)) == 2


async def test_concurrent_copies_of_one_event_create_notifications_once(
    engine: AsyncEngine,
) -> None:
    event = sample_created_event(watchers=3, team=0)
    rules = load_rules()
    results = await asyncio.gather(*(ingest(engine, event, rules) for _ in range(4)))
    assert sorted(r.duplicate for r in results) == [False, True, True, True]
    assert len(await notifications_about(engine, event.incident.id)) == 3


async def test_assigned_notifies_the_assignee_with_priority_from_severity(
    consumer: Outcomes, publisher: IncidentPublisher, engine: AsyncEngine
) -> None:
    for severity, priority in ((Severity.SEV1, "critical"), (Severity.SEV4, "low")):
        event = sample_assigned_event(severity)
        await publisher.publish(event)
        rows = await wait_for_notifications(engine, event.incident.id, 1)
        assert [(r["user_id"], r["type"], r["priority"]) for r in rows] == [
            (event.assignee.id, "incident_assigned", priority)
        ]


async def test_bad_messages_are_dead_lettered_with_a_reason_and_valid_ones_still_flow(
    consumer: Outcomes,
    amqp_connection: AbstractRobustConnection,
    topology: Topology,
    engine: AsyncEngine,
) -> None:
    valid = json.loads(sample_created_event().model_dump_json())
    nobody = sample_created_event().model_copy(update={"watchers": [], "team_members": []})
    bad = {
        "not_json": raw_message(b"{not json", content_type="application/json"),
        "wrong_content_type": raw_message(
            json.dumps(valid).encode(), content_type="application/xml"
        ),
        "unsupported_schema_version": raw_message(
            json.dumps({**valid, "schema_version": "2.0"}).encode(),
            content_type="application/json",
        ),
        "invalid_payload": raw_message(
            json.dumps({**valid, "incident": {"id": "x"}}).encode(),
            content_type="application/json",
        ),
        "unknown_event_type": raw_message(
            json.dumps({**valid, "type": "incident.exploded"}).encode(),
            content_type="application/json",
        ),
        "no_recipients": incident_message(nobody),
    }
    channel = await amqp_connection.channel(publisher_confirms=True)
    exchange = await channel.get_exchange(topology.incidents_exchange)
    for reason, message in bad.items():
        message.message_id = f"bad-{reason}"
        await publish_confirmed(exchange, message, "incident.created")
    after = sample_created_event(watchers=1, team=0)
    await publish_confirmed(exchange, incident_message(after), "incident.created")
    await channel.close()

    await wait_for_notifications(engine, after.incident.id, 1)
    letters = await dead_letters(amqp_connection, topology, len(bad))
    reasons = {m.message_id: (m.headers or {}).get(REASON_HEADER) for m in letters}
    assert reasons == {f"bad-{reason}": reason for reason in bad}
    assert all(consumer.of(f"bad-{reason}") == ["dead_lettered"] for reason in bad)
    assert await notifications_about(engine, nobody.incident.id) == []


async def test_a_batch_ingests_each_event_once_and_keeps_failures_to_their_own_event(
    engine: AsyncEngine,
) -> None:
    rules = load_rules()
    before = sample_created_event(watchers=1, team=0)
    await ingest(engine, before, rules)
    fresh = sample_created_event(watchers=2, team=0)
    nobody = sample_created_event().model_copy(update={"watchers": [], "team_members": []})

    outcomes = await ingest_batch(engine, [before, fresh, nobody, fresh], rules)

    assert isinstance(outcomes[0], IngestResult) and outcomes[0].duplicate
    assert isinstance(outcomes[1], IngestResult) and len(outcomes[1].created) == 2
    assert isinstance(outcomes[2], NoRecipients)
    assert isinstance(outcomes[3], IngestResult) and outcomes[3].duplicate
    assert len(await notifications_about(engine, before.incident.id)) == 1
    assert len(await notifications_about(engine, fresh.incident.id)) == 2


async def ingest_in_one_batch(
    engine: AsyncEngine, events: Sequence[IncidentEvent]
) -> list[IngestResult | BaseException]:
    """Submit every event before the batcher runs, so they are ingested as one batch; each
    event's outcome (a result or the exception its handler would see), within 30 s."""
    batcher = IngestBatcher(engine, load_rules())
    submitted = [asyncio.ensure_future(batcher.submit(e)) for e in events]
    runner = asyncio.create_task(batcher.run())
    try:
        return await asyncio.wait_for(
            asyncio.gather(*submitted, return_exceptions=True), timeout=30
        )
    finally:
        runner.cancel()


async def test_a_failing_event_does_not_take_its_batch_down_with_it(engine: AsyncEngine) -> None:
    """Postgres refuses NUL in text: the batch fails, then each event is tried alone."""
    good = [sample_created_event(watchers=1, team=0) for _ in range(3)]
    poison = sample_created_event(watchers=1, team=0)
    poison = poison.model_copy(
        update={"incident": poison.incident.model_copy(update={"title": "bad\x00title"})}
    )
    outcomes = await ingest_in_one_batch(engine, [*good, poison])
    assert [isinstance(o, IngestResult) for o in outcomes] == [True, True, True, False]
    for event in good:
        assert len(await notifications_about(engine, event.incident.id)) == 1
    assert await notifications_about(engine, poison.incident.id) == []


async def test_a_string_with_nul_is_dead_lettered_as_invalid_payload(
    consumer: Outcomes,
    amqp_connection: AbstractRobustConnection,
    topology: Topology,
    engine: AsyncEngine,
) -> None:
    event = sample_created_event()
    body = json.loads(event.model_dump_json())
    body["incident"]["title"] = "bad\x00title"
    channel = await amqp_connection.channel(publisher_confirms=True)
    exchange = await channel.get_exchange(topology.incidents_exchange)
    message = raw_message(json.dumps(body).encode(), content_type="application/json")
    message.message_id = event.event_id
    await publish_confirmed(exchange, message, "incident.created")
    await channel.close()
    [letter] = await dead_letters(amqp_connection, topology, 1)
    assert (letter.headers or {}).get(REASON_HEADER) == "invalid_payload"


async def test_an_unreachable_database_fails_the_whole_batch_at_once() -> None:
    """Nothing listens on the port: every handler gets the error (and retries its message)."""
    unreachable = create_engine(
        f"postgresql://postgres@127.0.0.1:{free_port()}/tocsin", command_timeout_s=2
    )
    events = [sample_created_event() for _ in range(5)]
    try:
        outcomes = await ingest_in_one_batch(unreachable, events)
    finally:
        await unreachable.dispose()
    assert all(isinstance(o, Exception) and is_outage(o) for o in outcomes), outcomes


async def test_the_producers_trace_is_kept_on_the_notification_events(
    consumer: Outcomes,
    amqp_connection: AbstractRobustConnection,
    topology: Topology,
    engine: AsyncEngine,
) -> None:
    trace_id = uuid.uuid4().hex
    event = sample_created_event(watchers=2, team=0)
    message = incident_message(event)
    message.headers = {**(message.headers or {}), "traceparent": f"00-{trace_id}-{'1' * 16}-01"}
    channel = await amqp_connection.channel(publisher_confirms=True)
    exchange = await channel.get_exchange(topology.incidents_exchange)
    await publish_confirmed(exchange, message, "incident.created")
    await channel.close()
    await wait_for_notifications(engine, event.incident.id, 2)

    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT traceparent FROM notification.events "
                "WHERE data->'notification'->>'entity_id' = :id"
            ),
            {"id": event.incident.id},
        )
        traceparents = [row.traceparent for row in rows]
    assert len(traceparents) == 2
    assert all(t is not None and t.split("-")[1] == trace_id for t in traceparents)


async def test_self_assignment_is_handled_and_notifies_nobody(
    consumer: Outcomes, publisher: IncidentPublisher, engine: AsyncEngine
) -> None:
    """Only the actor is concerned: not an error, nothing in the dead-letter queue."""
    event = sample_assigned_event()
    event = event.model_copy(update={"actor": event.assignee})
    await publisher.publish(event)
    await eventually(
        lambda: consumer.of(event.event_id), lambda o: o == ["acked"], what="the event acked"
    )
    assert await notifications_about(engine, event.incident.id) == []
