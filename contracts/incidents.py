"""Incident events that other services publish on the `incidents` exchange (DESIGN.md §3-4).

A producer (an incident tracker, say) publishes one JSON message per change, routing key =
event type (`incident.created`, ...), on the topic exchange `<namespace>.incidents`. Each event
carries the incident and the people concerned, so Tocsin decides who is told without calling
back.

Versioning: `schema_version` is "<major>.<minor>". Tocsin accepts every 1.x: a newer minor
version may add fields, which are ignored; fields are never removed or renamed within a major.
Another major is refused (see `check_schema_version`).
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

INCIDENT_SCHEMA_VERSION = "1.0"
SUPPORTED_MAJOR = 1
SCHEMA_VERSION_PATTERN = r"^1\.(0|[1-9][0-9]*)$"
INCIDENT_KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
COMMENT_EXCERPT_MAX = 500

_VERSION = re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$")


class IncidentEventType(StrEnum):
    CREATED = "incident.created"
    ASSIGNED = "incident.assigned"
    STATUS_CHANGED = "incident.status_changed"
    RESOLVED = "incident.resolved"
    COMMENT_ADDED = "incident.comment_added"


class Severity(StrEnum):
    """Incident severity; `sev1` is the worst."""

    SEV1 = "sev1"
    SEV2 = "sev2"
    SEV3 = "sev3"
    SEV4 = "sev4"


class UnsupportedSchemaVersion(ValueError):
    """The event's `schema_version` is missing, malformed, or of a major Tocsin does not read."""


class Person(BaseModel):
    """Someone concerned by an incident. `id` is the Tocsin user id (the JWT `sub`)."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=200)
    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)


class Incident(BaseModel):
    """The incident as it is after the change the event describes."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=200)
    key: str = Field(pattern=INCIDENT_KEY_PATTERN, examples=["INC-2024-001"])
    title: str = Field(min_length=1, max_length=200)
    severity: Severity
    status: str = Field(min_length=1, max_length=64, examples=["open", "investigating", "resolved"])
    url: str | None = Field(
        default=None, max_length=2048, description="Where a person can open the incident."
    )


class Comment(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=200)
    excerpt: str = Field(max_length=COMMENT_EXCERPT_MAX, description="The comment's first words.")


def _wire_requirements(schema: dict[str, Any]) -> None:
    """On the wire `type` and `schema_version` are required (the Python models default them)."""
    required = schema.setdefault("required", [])
    for name in ("type", "schema_version"):
        if name not in required:
            required.append(name)


class _IncidentEvent(BaseModel):
    """Fields every incident event has. Unknown fields (a newer minor version) are ignored."""

    model_config = ConfigDict(extra="ignore", json_schema_extra=_wire_requirements)

    event_id: str = Field(
        min_length=1, max_length=200, description="Unique per event; Tocsin dedupes on it."
    )
    schema_version: str = Field(default=INCIDENT_SCHEMA_VERSION, pattern=SCHEMA_VERSION_PATTERN)
    occurred_at: datetime
    incident: Incident
    actor: Person | None = Field(
        default=None, description="Who caused the change; never notified about it."
    )
    assignee: Person | None = None
    watchers: list[Person] = Field(default_factory=list, max_length=1000)
    team_members: list[Person] = Field(default_factory=list, max_length=1000)


class IncidentCreated(_IncidentEvent):
    """`incident.created`."""

    type: Literal[IncidentEventType.CREATED] = IncidentEventType.CREATED


class IncidentAssigned(_IncidentEvent):
    """`incident.assigned`: `assignee` is the new assignee."""

    type: Literal[IncidentEventType.ASSIGNED] = IncidentEventType.ASSIGNED
    assignee: Person
    previous_assignee: Person | None = None


class IncidentStatusChanged(_IncidentEvent):
    """`incident.status_changed` (to anything but resolved; see `incident.resolved`)."""

    type: Literal[IncidentEventType.STATUS_CHANGED] = IncidentEventType.STATUS_CHANGED
    previous_status: str = Field(min_length=1, max_length=64)
    new_status: str = Field(min_length=1, max_length=64)


class IncidentResolved(_IncidentEvent):
    """`incident.resolved`."""

    type: Literal[IncidentEventType.RESOLVED] = IncidentEventType.RESOLVED
    previous_status: str | None = Field(default=None, max_length=64)
    resolution: str | None = Field(
        default=None, max_length=500, description="A short summary of the fix."
    )


class IncidentCommentAdded(_IncidentEvent):
    """`incident.comment_added`: `actor` is the comment's author."""

    type: Literal[IncidentEventType.COMMENT_ADDED] = IncidentEventType.COMMENT_ADDED
    comment: Comment


IncidentEvent = Annotated[
    IncidentCreated
    | IncidentAssigned
    | IncidentStatusChanged
    | IncidentResolved
    | IncidentCommentAdded,
    Field(discriminator="type"),
]

INCIDENT_EVENT_MODELS: dict[IncidentEventType, type[_IncidentEvent]] = {
    IncidentEventType.CREATED: IncidentCreated,
    IncidentEventType.ASSIGNED: IncidentAssigned,
    IncidentEventType.STATUS_CHANGED: IncidentStatusChanged,
    IncidentEventType.RESOLVED: IncidentResolved,
    IncidentEventType.COMMENT_ADDED: IncidentCommentAdded,
}

_ADAPTER: TypeAdapter[IncidentEvent] = TypeAdapter(IncidentEvent)


def check_schema_version(version: object) -> None:
    """Raise UnsupportedSchemaVersion unless `version` is "1.<minor>" (a missing one too)."""
    if not isinstance(version, str) or not _VERSION.match(version):
        raise UnsupportedSchemaVersion(f"schema_version {version!r} is not <major>.<minor>")
    if int(version.split(".", 1)[0]) != SUPPORTED_MAJOR:
        raise UnsupportedSchemaVersion(
            f"schema_version {version} is not supported (major {SUPPORTED_MAJOR} only)"
        )


def incident_event_from_dict(raw: dict[str, Any]) -> IncidentEvent:
    """Parse a decoded message body.

    Raises UnsupportedSchemaVersion for a version of another major (checked first, so a
    future major's new shape is reported as such), pydantic.ValidationError for a body that
    does not fit the contract.
    """
    check_schema_version(raw.get("schema_version"))
    return _ADAPTER.validate_python(raw)
