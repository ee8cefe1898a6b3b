"""The service layer of incident ingestion: incident events → notifications, each event once.

`ingest` records the event id in `processed_incident_events` and creates the notifications (with
their `notification.created` events in the event store, published by the relay) in one
transaction. A second delivery of the same event id finds the row and creates nothing; two
concurrent deliveries serialise on the primary key, and the loser finds the winner's row.

Every claimed event is also applied to the incident projection (`projection.apply`) in the
same transaction: state, timeline and an `incident.updated` event for the incident's channel,
also for an event that concerns only its actor (it notifies nobody, but the incident changed).

`ingest_batch` does the same for several events in one transaction (group commit): a commit
costs a WAL flush and the event store's NOTIFY, so one commit for many events multiplies
throughput. It is all or nothing; the caller falls back to `ingest` per event on failure.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts.incidents import IncidentEvent, Person
from observability.tracing import TraceContext, current_trace, use_trace
from services.notification import queries, store
from services.notification.incidents import projection
from services.notification.incidents.rules import IncidentRules, Notice, plan

logger = logging.getLogger(__name__)


class NoRecipients(Exception):
    """The event names nobody the rules would tell (no assignee, watcher or team member).

    An event whose only concerned person is its actor (someone assigning an incident to
    themselves) is not an error: it is handled and creates nothing.
    """


@dataclass(frozen=True)
class IngestResult:
    duplicate: bool
    created: list[store.CreatedNotification]
    projected: bool = False
    """The incident projection took the event (an `incident.updated` event was appended)."""


@dataclass(frozen=True)
class _Prepared:
    event: IncidentEvent
    content: store.Content
    people: dict[str, Person]
    trace: TraceContext | None


_CLAIM = text(
    """
INSERT INTO notification.processed_incident_events (event_id, type, incident_id, processed_at)
SELECT e.event_id, e.type, e.incident_id, :now
FROM unnest(CAST(:event_ids AS text[]), CAST(:types AS text[]), CAST(:incident_ids AS text[]))
     AS e(event_id, type, incident_id)
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


def _traced(trace: TraceContext | None) -> contextlib.AbstractContextManager[object]:
    """The producer's trace around one event's work (kept on its notification events)."""
    return use_trace(trace) if trace is not None else contextlib.nullcontext()


def _prepare(event: IncidentEvent, rules: IncidentRules, trace: TraceContext | None) -> _Prepared:
    """The work for one event (`people` is empty when it concerns only its actor)."""
    planned = plan(event, rules)
    if planned.named == 0:
        raise NoRecipients(f"{event.type.value} names nobody the rules would notify")
    if not planned.recipients:
        logger.info(
            "incident event concerns only its actor; nobody to notify",
            extra={"event_id": event.event_id, "incident_id": event.incident.id},
        )
    return _Prepared(
        event=event,
        content=_content(planned.notice),
        people={p.id: p for p in planned.recipients},
        trace=trace,
    )


async def _record(
    conn: AsyncConnection, batch: Sequence[_Prepared], now: datetime
) -> dict[str, IngestResult]:
    """Claim the events' ids and create the notifications of those not claimed before."""
    claimed = {
        row.event_id
        for row in await conn.execute(
            _CLAIM,
            {
                "now": now,
                "event_ids": [p.event.event_id for p in batch],
                "types": [p.event.type.value for p in batch],
                "incident_ids": [p.event.incident.id for p in batch],
            },
        )
    }
    fresh = [p for p in batch if p.event.event_id in claimed]
    await projection.apply(conn, [p.event for p in fresh], now)
    # One look-up of subscribers and preferences per notification type, for the whole batch.
    users_by_type: dict[str, set[str]] = {}
    for prepared in fresh:
        users_by_type.setdefault(prepared.content.type, set()).update(prepared.people)
    known: dict[tuple[str, str], queries.Recipient] = {}
    for notification_type, users in users_by_type.items():
        for r in await queries.recipients(conn, sorted(users), notification_type):
            known[(notification_type, r.user_id)] = r
    results: dict[str, IngestResult] = {}
    for prepared in batch:
        event = prepared.event
        if event.event_id not in claimed:
            logger.info(
                "incident event already ingested",
                extra={"event_id": event.event_id, "incident_id": event.incident.id},
            )
            results[event.event_id] = IngestResult(duplicate=True, created=[])
            continue
        content, people = prepared.content, prepared.people
        found = [known[(content.type, user_id)] for user_id in people]
        # Tocsin's subscriber record wins; the event's own details fill the gaps.
        deliveries = [
            store.delivery_for(
                r, content, email=people[r.user_id].email, name=people[r.user_id].name
            )
            for r in found
        ]
        ids = [str(uuid.uuid4()) for _ in deliveries]
        created: list[store.CreatedNotification] = []
        if deliveries:
            with _traced(prepared.trace):
                created = await store.create_notifications(conn, content, deliveries, now, ids)
        results[event.event_id] = IngestResult(duplicate=False, created=created, projected=True)
    return results


def _log_ingested(prepared: _Prepared, result: IngestResult) -> None:
    event = prepared.event
    if result.duplicate:
        return
    with _traced(prepared.trace):
        logger.info(
            "incident event ingested",
            extra={
                "event_id": event.event_id,
                "incident_id": event.incident.id,
                "type": event.type.value,
                "notifications": len(result.created),
                "user_ids": [c.user_id for c in result.created],
            },
        )


def _no_wakeup() -> None:
    pass


async def ingest(
    engine: AsyncEngine,
    event: IncidentEvent,
    rules: IncidentRules,
    on_events: Callable[[], None] = _no_wakeup,
    trace: TraceContext | None = None,
) -> IngestResult:
    """Create the notifications `event` calls for, unless its event id was ingested before.

    `on_events` is called after a commit that appended events (it wakes the relay); `trace`
    (default: the current one) is kept on the notification events. Raises NoRecipients when
    the rules name nobody; database errors propagate (transient: the consumer retries the
    message).
    """
    prepared = _prepare(event, rules, trace or current_trace())
    async with engine.begin() as conn:
        result = (await _record(conn, [prepared], datetime.now(UTC)))[event.event_id]
    if result.projected:
        on_events()
    _log_ingested(prepared, result)
    return result


async def ingest_batch(
    engine: AsyncEngine,
    events: Sequence[IncidentEvent],
    rules: IncidentRules,
    on_events: Callable[[], None] = _no_wakeup,
    traces: Sequence[TraceContext | None] | None = None,
) -> list[IngestResult | NoRecipients]:
    """`ingest` for several events in one transaction; one outcome per event, in order.
    `traces[i]` is the trace of `events[i]` (kept on its notification events).

    An event that names nobody gets its NoRecipients in the list and does not affect the
    others; a database error aborts the whole batch and propagates.
    """
    outcomes: list[IngestResult | NoRecipients | None] = []
    batch: dict[str, _Prepared] = {}
    for index, event in enumerate(events):
        try:
            prepared = _prepare(event, rules, traces[index] if traces else None)
        except NoRecipients as exc:
            outcomes.append(exc)
            continue
        outcomes.append(None)
        batch.setdefault(event.event_id, prepared)
    results: dict[str, IngestResult] = {}
    if batch:
        async with engine.begin() as conn:
            results = await _record(conn, list(batch.values()), datetime.now(UTC))
        if any(r.projected for r in results.values()):
            on_events()
    final: list[IngestResult | NoRecipients] = []
    reported: set[str] = set()
    for event, outcome in zip(events, outcomes, strict=True):
        if outcome is not None:
            final.append(outcome)
            continue
        if event.event_id in reported:  # the same event twice in one batch
            final.append(IngestResult(duplicate=True, created=[]))
            continue
        reported.add(event.event_id)
        final.append(results[event.event_id])
        _log_ingested(batch[event.event_id], results[event.event_id])
    return final
