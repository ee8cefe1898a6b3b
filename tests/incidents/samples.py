"""Incident events for tests: unique people per call, so tests never see each other's rows."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from contracts.incidents import (
    Incident,
    IncidentAssigned,
    IncidentCreated,
    Person,
    Severity,
)


def person(role: str) -> Person:
    return Person(id=f"{role}-{uuid.uuid4().hex[:10]}", name=role.capitalize())


def incident(severity: Severity = Severity.SEV2) -> Incident:
    incident_id = str(uuid.uuid4())
    return Incident(
        id=incident_id,
        key=f"INC-2024-{uuid.uuid4().int % 1000:03d}",
        title="Checkout latency above 2 s",
        severity=severity,
        status="open",
        url=f"/incidents/{incident_id}",
    )


def sample_created_event(
    watchers: int = 2, team: int = 2, severity: Severity = Severity.SEV2
) -> IncidentCreated:
    """A created event whose actor is also a watcher (the actor must not be notified)."""
    actor = person("actor")
    return IncidentCreated(
        event_id=str(uuid.uuid4()),
        occurred_at=datetime.now(UTC),
        incident=incident(severity),
        actor=actor,
        watchers=[actor, *(person("watcher") for _ in range(watchers))],
        team_members=[person("team") for _ in range(team)],
    )


def sample_assigned_event(severity: Severity = Severity.SEV1) -> IncidentAssigned:
    actor = person("actor")
    return IncidentAssigned(
        event_id=str(uuid.uuid4()),
        occurred_at=datetime.now(UTC),
        incident=incident(severity),
        actor=actor,
        assignee=person("assignee"),
        watchers=[person("watcher")],
        team_members=[person("team")],
    )
