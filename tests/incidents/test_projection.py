"""The incident projection, through the real ingest path on real Postgres: gap-free seq per
incident, once per event id, in the ingest's transaction, with its `incident.updated` event."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.incidents import IncidentAssigned, IncidentStatusChanged
from services.notification.errors import IncidentNotFound
from services.notification.incidents import reads
from services.notification.incidents.ingest import ingest, ingest_batch
from services.notification.incidents.rules import load_rules
from tests.incidents.samples import person, sample_assigned_event, sample_created_event


def _status(event: IncidentAssigned, new_status: str) -> IncidentStatusChanged:
    return IncidentStatusChanged(
        event_id=str(uuid.uuid4()),
        occurred_at=datetime.now(UTC),
        incident=event.incident.model_copy(update={"status": new_status}),
        actor=event.actor,
        watchers=event.watchers,
        team_members=event.team_members,
        previous_status=event.incident.status,
        new_status=new_status,
    )


async def _published_updates(engine: AsyncEngine, incident_id: str) -> list[int]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT (data->>'seq')::int AS seq FROM notification.events "
                "WHERE type = 'incident.updated' AND user_id = :channel ORDER BY id"
            ),
            {"channel": f"incident:{incident_id}"},
        )
        return [r.seq for r in rows]


async def test_each_change_gets_the_next_seq_once_and_an_outbox_event(engine: AsyncEngine) -> None:
    rules = load_rules()
    first = sample_assigned_event()
    changes = [_status(first, s) for s in ("investigating", "mitigated", "monitoring")]
    await ingest(engine, first, rules)
    outcomes = await ingest_batch(engine, [*changes, changes[0]], rules)  # one repeated
    assert [getattr(o, "duplicate", None) for o in outcomes] == [False, False, False, True]
    await ingest(engine, changes[1], rules)  # a redelivery later

    view = await reads.incident(engine, first.incident.id, first.assignee.id)
    assert view["seq"] == 4
    assert view["incident"]["status"] == "monitoring"
    assert view["incident"]["assignee"]["id"] == first.assignee.id  # kept from the first event
    assert [u["seq"] for u in view["timeline"]] == [1, 2, 3, 4]
    assert [u["change"]["new_status"] for u in view["timeline"][1:]] == [
        "investigating",
        "mitigated",
        "monitoring",
    ]
    assert await _published_updates(engine, first.incident.id) == [1, 2, 3, 4]
    page = await reads.updates_after(engine, first.incident.id, first.actor.id, 2, 1)
    assert [u["seq"] for u in page.updates] == [3]
    assert (page.latest_seq, page.complete) == (4, False)


async def test_concurrent_batches_on_two_incidents_keep_each_gap_free(engine: AsyncEngine) -> None:
    rules = load_rules()
    a, b = sample_assigned_event(), sample_assigned_event()
    await ingest_batch(engine, [a, b], rules)
    batches = [
        [_status(a, f"a{n}"), _status(b, f"b{n}")]
        if n % 2
        else [_status(b, f"b{n}"), _status(a, f"a{n}")]
        for n in range(8)
    ]
    await asyncio.gather(*(ingest_batch(engine, batch, rules) for batch in batches))
    for event in (a, b):
        view = await reads.incident(engine, event.incident.id, None)
        assert [u["seq"] for u in view["timeline"]] == list(range(1, 10))


async def test_an_event_about_only_its_actor_is_projected_and_its_people_may_read(
    engine: AsyncEngine,
) -> None:
    rules = load_rules()
    created = sample_created_event(watchers=1, team=0)
    await ingest(engine, created, rules)
    me = person("self")
    self_assigned = IncidentAssigned(
        event_id=str(uuid.uuid4()),
        occurred_at=datetime.now(UTC),
        incident=created.incident,
        actor=me,
        assignee=me,
    )
    result = await ingest(engine, self_assigned, rules)
    assert result.created == [] and result.projected
    view = await reads.incident(engine, created.incident.id, me.id)
    assert view["seq"] == 2 and view["incident"]["assignee"]["id"] == me.id
    for reader in (created.watchers[1].id, created.actor.id if created.actor else ""):
        assert (await reads.incident(engine, created.incident.id, reader))["seq"] == 2
    with pytest.raises(IncidentNotFound):
        await reads.incident(engine, created.incident.id, "someone-else")
    with pytest.raises(IncidentNotFound):
        await reads.updates_after(engine, "no-such-incident", None, 0, 10)
