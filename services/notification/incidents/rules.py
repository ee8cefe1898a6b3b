"""Turns an incident event into notifications, by the rules in `rules.yaml`.

`load_rules()` reads and checks the file (every event type and severity covered, every template
renders); `plan(event, rules)` says what the event becomes: one notice (type, priority, title,
message, entity) and the people to give it to. The actor is never among them, and each person
appears once.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from contracts.incidents import IncidentEvent, IncidentEventType, Person, Severity
from contracts.notifications import (
    MESSAGE_MAX,
    NOTIFICATION_TYPE_PATTERN,
    TITLE_MAX,
    Priority,
)

DEFAULT_RULES_PATH = Path(__file__).with_name("rules.yaml")
ENTITY_TYPE = "incident"
MISSING = "-"
NOBODY = "Someone"

PLACEHOLDERS = (
    "key",
    "title",
    "severity",
    "status",
    "url",
    "actor",
    "assignee",
    "previous_assignee",
    "previous_status",
    "new_status",
    "resolution",
    "comment",
)


class InvalidRules(ValueError):
    """The rules file cannot be read or does not make sense; the message says where."""


class Audience(StrEnum):
    ASSIGNEE = "assignee"
    PREVIOUS_ASSIGNEE = "previous_assignee"
    WATCHERS = "watchers"
    TEAM_MEMBERS = "team_members"


class _Template(string.Formatter):
    """`str.format` limited to plain `{name}` fields: no attribute or index access."""

    def get_field(self, field_name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        if field_name not in kwargs:
            raise KeyError(field_name)
        return kwargs[field_name], field_name


_FORMATTER = _Template()


class EventRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str = Field(pattern=NOTIFICATION_TYPE_PATTERN)
    notify: list[Audience] = Field(min_length=1)
    title: str = Field(min_length=1)
    message: str = ""
    priority: Priority | None = None

    @model_validator(mode="after")
    def _templates_render(self) -> EventRule:
        sample = dict.fromkeys(PLACEHOLDERS, "x")
        for name in ("title", "message"):
            try:
                _FORMATTER.vformat(getattr(self, name), (), sample)
            except KeyError as exc:
                raise ValueError(
                    f"{name} uses unknown placeholder {{{exc.args[0]}}}; "
                    f"known: {', '.join(PLACEHOLDERS)}"
                ) from None
            except (ValueError, IndexError) as exc:
                raise ValueError(f"{name} is not a valid template: {exc}") from None
        return self


class IncidentRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    priority_by_severity: dict[Severity, Priority]
    events: dict[IncidentEventType, EventRule]

    @model_validator(mode="after")
    def _complete(self) -> IncidentRules:
        missing = [s.value for s in Severity if s not in self.priority_by_severity]
        missing += [t.value for t in IncidentEventType if t not in self.events]
        if missing:
            raise ValueError(f"no rule for: {', '.join(missing)}")
        return self


@dataclass(frozen=True)
class Notice:
    """What every recipient of one incident event is told."""

    type: str
    priority: Priority
    title: str
    message: str
    entity_type: str
    entity_id: str
    entity_url: str | None


@dataclass(frozen=True)
class Plan:
    notice: Notice
    recipients: list[Person]
    named: int
    """How many distinct people the rule's audiences named, the actor included: 0 means the
    event concerns nobody (an error); > 0 with no recipients means only its actor."""


def load_rules(path: Path | None = None) -> IncidentRules:
    """Read and check a rules file (default: `rules.yaml` beside this module).

    Raises InvalidRules naming the file and the problem.
    """
    path = path or DEFAULT_RULES_PATH
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidRules(f"{path}: {exc}") from exc
    try:
        return IncidentRules.model_validate(raw)
    except ValidationError as exc:
        raise InvalidRules(f"{path}: {exc}") from exc


def _shown(person: Person | None, missing: str = MISSING) -> str:
    if person is None:
        return missing
    return person.name or person.id


def _context(event: IncidentEvent) -> dict[str, str]:
    incident = event.incident
    return {
        "key": incident.key,
        "title": incident.title,
        "severity": incident.severity.value,
        "status": incident.status,
        "url": incident.url or MISSING,
        "actor": _shown(event.actor, NOBODY),
        "assignee": _shown(event.assignee),
        "previous_assignee": _shown(getattr(event, "previous_assignee", None)),
        "previous_status": getattr(event, "previous_status", None) or MISSING,
        "new_status": getattr(event, "new_status", None) or incident.status,
        "resolution": getattr(event, "resolution", None) or MISSING,
        "comment": event.comment.excerpt if hasattr(event, "comment") else MISSING,
    }


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _audience(event: IncidentEvent, audience: Audience) -> list[Person]:
    if audience is Audience.ASSIGNEE:
        return [event.assignee] if event.assignee else []
    if audience is Audience.PREVIOUS_ASSIGNEE:
        previous = getattr(event, "previous_assignee", None)
        return [previous] if previous else []
    if audience is Audience.WATCHERS:
        return list(event.watchers)
    return list(event.team_members)


def plan(event: IncidentEvent, rules: IncidentRules) -> Plan:
    """What `event` becomes under `rules`. `recipients` may be empty (see `Plan.named`)."""
    rule = rules.events[event.type]
    context = _context(event)
    actor_id = event.actor.id if event.actor else None
    named: set[str] = set()
    recipients: dict[str, Person] = {}
    for audience in rule.notify:
        for person in _audience(event, audience):
            named.add(person.id)
            if person.id != actor_id:
                recipients.setdefault(person.id, person)
    notice = Notice(
        type=rule.type,
        priority=rule.priority or rules.priority_by_severity[event.incident.severity],
        title=_cut(_FORMATTER.vformat(rule.title, (), context), TITLE_MAX),
        message=_cut(_FORMATTER.vformat(rule.message, (), context), MESSAGE_MAX),
        entity_type=ENTITY_TYPE,
        entity_id=event.incident.id,
        entity_url=event.incident.url,
    )
    return Plan(notice=notice, recipients=list(recipients.values()), named=len(named))
