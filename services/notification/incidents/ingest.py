"""The service layer of incident ingestion: one incident event → notifications, once.

`ingest` records the event id in `processed_incident_events` and creates the notifications (with
their `notification.created` events in the event store, published by the relay) in one
transaction. A second delivery of the same event id finds the row and creates nothing; two
concurrent deliveries serialise on the primary key, and the loser finds the winner's row.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.incidents import IncidentEvent, Person
from services.notification import queries, store
from services.notification.incidents.rules import IncidentRules, Notice, plan
from services.notification.preferences import resolve_channels

logger = logging.getLogger(__name__)


class NoRecipients(Exception):
    """The rules name nobody to tell about this event (apart, perhaps, from its actor)."""


@dataclass(frozen=True)
class IngestResult:
    duplicate: bool
    created: list[store.CreatedNotification]


_CLAIM = text(
    """
INSERT INTO notification.processed_incident_events (event_id, type, incident_id, processed_at)
VALUES (:event_id, :type, :incident_id, :now)
ON CONFLICT (event_id) DO NOTHING
RETURNING event_id
"""
)


def _content(notice: Notice) -> store.Content:
    return store.Content(
        type=notice.type,
        priority=notice.priority,
        title=notice.title,
        message=notice.message,
        entity_type=notice.entity_type,
        entity_id=notice.entity_id,
        entity_url=notice.entity_url,
    )


async def ingest(engine: AsyncEngine, event: IncidentEvent, rules: IncidentRules) -> IngestResult:
    """Create the notifications `event` calls for, unless its event id was ingested before.

    Raises NoRecipients when the rules name nobody; database errors propagate (transient:
    the consumer retries the message).
    """
    planned = plan(event, rules)
    if not planned.recipients:
        raise NoRecipients(f"{event.type.value} names nobody to notify but its actor")
    content = _content(planned.notice)
    people: dict[str, Person] = {p.id: p for p in planned.recipients}
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        claimed = await conn.execute(
            _CLAIM,
            {
                "event_id": event.event_id,
                "type": event.type.value,
                "incident_id": event.incident.id,
                "now": now,
            },
        )
        if claimed.first() is None:
            logger.info(
                "incident event already ingested",
                extra={"event_id": event.event_id, "incident_id": event.incident.id},
            )
            return IngestResult(duplicate=True, created=[])
        found = await queries.recipients(conn, list(people), content.type)
        deliveries = [
            store.Delivery(
                user_id=r.user_id,
                # Tocsin's subscriber record wins; the event's own details fill the gaps.
                email=r.email or people[r.user_id].email,
                name=r.name or people[r.user_id].name,
                locale=r.locale,
                channels=resolve_channels(content.type, content.priority, r.preferences),
            )
            for r in found
        ]
        created = await store.create_notifications(conn, content, deliveries, now)
    logger.info(
        "incident event ingested",
        extra={
            "event_id": event.event_id,
            "incident_id": event.incident.id,
            "type": event.type.value,
            "notifications": len(created),
            "user_ids": [c.user_id for c in created],
        },
    )
    return IngestResult(duplicate=False, created=created)
