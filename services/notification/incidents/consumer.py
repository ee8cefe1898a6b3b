"""The AMQP edge of incident ingestion: parse a message, hand the event to the batcher
(`batching.py`, which calls `ingest_batch`), map the outcome.

Queue `<ns>.notification-incidents` (quorum, bound to `<ns>.incidents` with `incident.*`),
under `messaging.consuming.RetryingConsumer`. A message that can never be handled goes to
`<ns>.notification-incidents.dlq` with `x-tocsin-reason` set to one of:

| reason | when |
|---|---|
| `wrong_content_type` | content type is not `application/json` |
| `not_json` | the body is not UTF-8 JSON |
| `unsupported_schema_version` | `schema_version` missing, malformed, or not 1.x |
| `unknown_event_type` | `type` is not one of the five incident event types |
| `invalid_payload` | the body does not fit the contract (`x-tocsin-detail` says where) |
| `no_recipients` | the event names nobody the rules would notify (only-the-actor is fine) |

Database outages are retried with delays; nothing blocks the queue.

An incident whose `url` is not a safe link (`contracts.links`: a relative path or an http(s)
URL on `ENTITY_URL_ALLOWED_HOSTS`) is still notified, **without its link**, and a warning is
logged with the event id: the people named in an incident should hear of it even when the
producer sent a bad link, and dropping the link removes the only part that could harm them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
from aio_pika.abc import AbstractIncomingMessage
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.incidents import (
    IncidentEvent,
    IncidentEventType,
    UnsupportedSchemaVersion,
    incident_event_from_dict,
)
from contracts.links import ENTITY_URL_REFUSED, is_safe_link
from contracts.topology import Topology
from messaging.consumers import QueueConsumer
from messaging.consuming import OutcomeListener, PermanentFailure
from messaging.topology import ConsumerSpec
from observability.tracing import trace_from_headers, use_trace
from services.notification.incidents.batching import MAX_BATCH, IngestBatcher, running_batcher
from services.notification.incidents.ingest import NoRecipients
from services.notification.incidents.rules import IncidentRules

logger = logging.getLogger(__name__)

CONSUMER_NAME = "notification-incidents"
JSON_CONTENT_TYPE = "application/json"



def consumer_spec(topology: Topology) -> ConsumerSpec:
    return ConsumerSpec(
        name=CONSUMER_NAME,
        exchange=topology.incidents_exchange,
        bindings=["incident.*"],
        prefetch=MAX_BATCH,  # a full batch can be in flight (see batching.py)
    )


def _validation_detail(error: ValidationError) -> str:
    parts = [
        f"{'.'.join(str(p) for p in e['loc']) or '(body)'}: {e['msg']}" for e in error.errors()
    ]
    return "; ".join(parts[:5])


def _has_nul(value: Any) -> bool:
    """Postgres text cannot hold NUL: such a body would fail in the database on every retry."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def parse_incident_message(message: AbstractIncomingMessage) -> IncidentEvent:
    """The incident event in a message; raises PermanentFailure with a stable reason."""
    content_type = (message.content_type or "").split(";", 1)[0].strip().lower()
    if content_type != JSON_CONTENT_TYPE:
        raise PermanentFailure(
            "wrong_content_type", f"content type {message.content_type!r}, expected JSON"
        )
    try:
        raw: Any = orjson.loads(message.body)
    except orjson.JSONDecodeError as exc:
        raise PermanentFailure("not_json", str(exc)) from None
    if not isinstance(raw, dict):
        raise PermanentFailure("invalid_payload", f"body is a JSON {type(raw).__name__}")
    if _has_nul(raw):
        raise PermanentFailure("invalid_payload", "a string contains a NUL character")
    if raw.get("type") not in {t.value for t in IncidentEventType}:
        raise PermanentFailure("unknown_event_type", f"type {raw.get('type')!r}")
    try:
        return incident_event_from_dict(raw)
    except UnsupportedSchemaVersion as exc:
        raise PermanentFailure("unsupported_schema_version", str(exc)) from None
    except ValidationError as exc:
        raise PermanentFailure("invalid_payload", _validation_detail(exc)) from None


def without_unsafe_link(event: IncidentEvent, link_hosts: frozenset[str]) -> IncidentEvent:
    """`event`, with its incident's `url` dropped when it is not a safe link."""
    url = event.incident.url
    if url is None or is_safe_link(url, link_hosts):
        return event
    logger.warning(
        "incident url refused (%s); notifying without a link",
        ENTITY_URL_REFUSED,
        extra={"event_id": event.event_id, "incident_id": event.incident.id},
    )
    incident = event.incident.model_copy(update={"url": None})
    return event.model_copy(update={"incident": incident})


class IncidentHandler:
    """The handler RetryingConsumer calls for each message (concurrently, up to prefetch)."""

    def __init__(self, batcher: IngestBatcher, link_hosts: frozenset[str] = frozenset()) -> None:
        self.batcher = batcher
        self.link_hosts = link_hosts

    async def __call__(self, message: AbstractIncomingMessage, attempt: int) -> None:
        with use_trace(trace_from_headers(message.headers)):
            event = without_unsafe_link(parse_incident_message(message), self.link_hosts)
            try:
                await self.batcher.submit(event)
            except NoRecipients as exc:
                raise PermanentFailure("no_recipients", str(exc)) from None


async def consume_incidents(
    engine: AsyncEngine,
    amqp_url: str,
    topology: Topology,
    rules: IncidentRules,
    *,
    on_outcome: OutcomeListener | None = None,
    on_events: Callable[[], None] = lambda: None,
    link_hosts: frozenset[str] = frozenset(),
) -> None:
    """Consume until cancelled; reconnect after the broker goes away or was never there.

    `on_outcome` hears each message's outcome; `on_events` is called after each commit that
    appended events (it wakes the relay); an incident `url` off `link_hosts` is dropped.
    """
    async with running_batcher(engine, rules, on_events) as batcher:
        await QueueConsumer(amqp_url, topology, consumer_spec(topology)).run(
            IncidentHandler(batcher, link_hosts), on_outcome
        )


@contextlib.asynccontextmanager
async def incident_consumer(
    engine: AsyncEngine,
    amqp_url: str,
    topology: Topology,
    rules: IncidentRules,
    on_outcome: OutcomeListener | None = None,
    on_events: Callable[[], None] = lambda: None,
    link_hosts: frozenset[str] = frozenset(),
) -> AsyncIterator[asyncio.Task[None]]:
    """Run the incident consumer as a background task for the duration of the block.

    `on_events` is called after each commit that appended events (it wakes the relay).
    """
    task = asyncio.create_task(
        consume_incidents(
            engine,
            amqp_url,
            topology,
            rules,
            on_outcome=on_outcome,
            on_events=on_events,
            link_hosts=link_hosts,
        ),
        name="incident-consumer",
    )
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
