"""The demo incident: incident events published on the incidents exchange, as an incident
tracker would, naming every demo user as a watcher (so each may open the incident page)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from contracts.incidents import (
    Comment,
    Incident,
    IncidentCommentAdded,
    IncidentCreated,
    IncidentEvent,
    IncidentResolved,
    IncidentStatusChanged,
    Person,
    Severity,
)
from messaging.incidents import IncidentPublisher

STATUSES = ("open", "investigating", "mitigated", "resolved")


class Change(StrEnum):
    CREATED = "created"
    STATUS = "status"
    COMMENT = "comment"


class IncidentAction(BaseModel):
    """`POST /demo/incident` body: `user` makes one change to the demo incident."""

    model_config = ConfigDict(extra="forbid")

    user: str = Field(min_length=1, max_length=255)
    change: Change
    status: str | None = Field(default=None, pattern="^(open|investigating|mitigated|resolved)$")
    comment: str | None = Field(default=None, min_length=1, max_length=500)


class InvalidAction(Exception):
    code = "invalid_action"


class DemoIncident:
    """Publishes the demo incident's events; connects to the broker on first use."""

    def __init__(self, incident_id: str, users: list[str], publisher: IncidentPublisher) -> None:
        self.incident_id = incident_id
        self._users = users
        self._publisher = publisher
        self._status = "open"
        self._lock = asyncio.Lock()

    async def act(self, action: IncidentAction) -> None:
        """Raises InvalidAction for a status change without status or a comment without text,
        and the publisher's errors when the broker does not confirm."""
        async with self._lock:
            event = self._event(action)
            await self._publisher.publish(event)
            self._status = event.incident.status

    def _event(self, action: IncidentAction) -> IncidentEvent:
        status = action.status if action.change is Change.STATUS else self._status
        if action.change is Change.CREATED:
            status = "open"
        incident = Incident(
            id=self.incident_id,
            key="INC-42",
            title="Database latency above 2 s on eu-west-1",
            severity=Severity.SEV2,
            status=status or self._status,
            url="#incident",
        )
        common: dict[str, Any] = {
            "event_id": str(uuid.uuid4()),
            "occurred_at": datetime.now(UTC),
            "incident": incident,
            "actor": Person(id=action.user, name=action.user),
            "watchers": [Person(id=u, name=u) for u in self._users],
        }
        if action.change is Change.CREATED:
            return IncidentCreated(**common)
        if action.change is Change.STATUS:
            if action.status is None:
                raise InvalidAction("a status change needs `status`")
            if action.status == "resolved":
                return IncidentResolved(**common, previous_status=self._status)
            return IncidentStatusChanged(
                **common, previous_status=self._status, new_status=action.status
            )
        if action.comment is None:
            raise InvalidAction("a comment needs `comment`")
        return IncidentCommentAdded(
            **common, comment=Comment(id=uuid.uuid4().hex, excerpt=action.comment)
        )

    async def close(self) -> None:
        await self._publisher.close()
