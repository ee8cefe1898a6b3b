"""The incident projection: incident events → state, participants and timeline per incident.

`apply` runs inside the transaction that ingests the incident event (so an event is projected
exactly once, with its claim). It locks the incident's row, gives the change the incident's
next `seq` (gap-free, from 1), records the state after the change and the timeline entry, and
appends an `incident.updated` event to the event store, which the relay publishes to the
subscribers of channel `incident:<id>`. Incidents are locked in id order within a batch, so
concurrent batches never deadlock.

The participants are everyone any of the incident's events named: assignee (and previous
assignee), watchers, team members and actor. They, and callers with the admin scope, may read
the incident and subscribe to its channel.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.channels import IncidentChange, IncidentState, IncidentUpdated, incident_channel
from contracts.events import SCHEMA_VERSION, EventType
from contracts.incidents import (
    IncidentAssigned,
    IncidentCommentAdded,
    IncidentEvent,
    IncidentResolved,
    IncidentStatusChanged,
    Person,
)
from services.notification.records import current_traceparent

_CREATE = text(
    """
INSERT INTO notification.incidents (incident_id, last_seq, state, participants, updated_at)
SELECT id, 0, '{}'::jsonb, '{}'::text[], :now FROM unnest(CAST(:ids AS text[])) AS id
ON CONFLICT (incident_id) DO NOTHING
"""
)

_LOCK = text(
    """
SELECT incident_id, last_seq, state::text AS state, participants FROM notification.incidents
WHERE incident_id = ANY(CAST(:ids AS text[])) ORDER BY incident_id FOR UPDATE
"""
)

_UPDATE = text(
    """
UPDATE notification.incidents
SET last_seq = :seq, state = CAST(:state AS jsonb), participants = CAST(:participants AS text[]),
    updated_at = :now
WHERE incident_id = :id
"""
)

_TIMELINE = text(
    """
INSERT INTO notification.incident_timeline (incident_id, seq, event_id, update)
VALUES (:id, :seq, :event_id, CAST(:update AS jsonb))
"""
)

_OUTBOX = text(
    """
INSERT INTO notification.events
    (event_id, type, schema_version, occurred_at, user_id, seq, data, stats, traceparent)
VALUES (CAST(:event_id AS uuid), :type, :schema_version, :occurred_at, :channel, NULL,
        CAST(:data AS jsonb), NULL, :traceparent)
"""
)


class _Current:
    __slots__ = ("participants", "seq", "state")

    def __init__(self, seq: int, state: dict[str, Any], participants: list[str]) -> None:
        self.seq = seq
        self.state = state
        self.participants = participants


async def apply(
    conn: AsyncConnection, events: Sequence[IncidentEvent], now: datetime
) -> list[IncidentUpdated]:
    """Project `events` (already claimed, so each is new) in order; returns the updates."""
    if not events:
        return []
    ids = sorted({e.incident.id for e in events})
    await conn.execute(_CREATE, {"ids": ids, "now": now})
    rows = await conn.execute(_LOCK, {"ids": ids})
    current = {
        row.incident_id: _Current(row.last_seq, orjson.loads(row.state), list(row.participants))
        for row in rows
    }
    updates: list[IncidentUpdated] = []
    for event in events:
        incident = current[event.incident.id]
        update = _next(incident, event, now)
        incident.seq = update.seq
        incident.state = update.incident.model_dump(mode="json")
        incident.participants = _participants(incident.participants, event)
        updates.append(update)
        await _append(conn, update, now)
    for incident_id, incident in current.items():
        await conn.execute(
            _UPDATE,
            {
                "id": incident_id,
                "seq": incident.seq,
                "state": orjson.dumps(incident.state).decode(),
                "participants": incident.participants,
                "now": now,
            },
        )
    return updates


async def _append(conn: AsyncConnection, update: IncidentUpdated, now: datetime) -> None:
    body = update.model_dump_json()
    await conn.execute(
        _TIMELINE,
        {
            "id": update.incident.id,
            "seq": update.seq,
            "event_id": update.change.event_id,
            "update": body,
        },
    )
    await conn.execute(
        _OUTBOX,
        {
            "event_id": str(uuid.uuid4()),
            "type": EventType.INCIDENT_UPDATED.value,
            "schema_version": SCHEMA_VERSION,
            "occurred_at": now,
            "channel": update.channel,
            "data": body,
            "traceparent": current_traceparent(),
        },
    )


def _next(incident: _Current, event: IncidentEvent, now: datetime) -> IncidentUpdated:
    before = incident.state
    state = IncidentState(
        id=event.incident.id,
        key=event.incident.key,
        title=event.incident.title,
        severity=event.incident.severity,
        status=event.incident.status,
        url=event.incident.url,
        assignee=event.assignee or _person(before.get("assignee")),
        watchers=event.watchers or [Person.model_validate(p) for p in before.get("watchers", [])],
        team_members=event.team_members
        or [Person.model_validate(p) for p in before.get("team_members", [])],
        resolution=before.get("resolution"),
        updated_at=now,
    )
    change = IncidentChange(type=event.type, event_id=event.event_id, occurred_at=event.occurred_at)
    if isinstance(event, IncidentAssigned):
        change.assignee = event.assignee
        change.previous_assignee = event.previous_assignee
    elif isinstance(event, IncidentStatusChanged):
        change.previous_status, change.new_status = event.previous_status, event.new_status
    elif isinstance(event, IncidentResolved):
        change.previous_status, change.new_status = event.previous_status, event.incident.status
        change.resolution = state.resolution = event.resolution
    elif isinstance(event, IncidentCommentAdded):
        change.comment = event.comment
    return IncidentUpdated(
        channel=incident_channel(event.incident.id),
        incident=state,
        change=change,
        actor=event.actor,
        seq=incident.seq + 1,
    )


def _person(raw: object) -> Person | None:
    return Person.model_validate(raw) if isinstance(raw, dict) else None


def _participants(known: list[str], event: IncidentEvent) -> list[str]:
    people = [event.actor, event.assignee, *event.watchers, *event.team_members]
    if isinstance(event, IncidentAssigned):
        people.append(event.previous_assignee)
    named = set(known) | {p.id for p in people if p is not None}
    return sorted(named)
