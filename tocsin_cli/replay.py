"""`tocsin replay`: re-publish stored events to ONE consumer's queue, marked as replayed.

Events are read from the event store in position order and published through the default
exchange with the consumer's queue name as routing key, so no other consumer sees them. Each
publish is confirmed before the next batch; consumers are idempotent by `event_id`, so an
interrupted replay is safe to run again (the summary prints where to resume).

For `realtime` there is no durable queue and publishing to the events exchange would reach
every consumer: a replay goes to one instance's own queue (`--instance`), which pushes to the
sockets it holds; browsers drop what they already saw by `seq`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aio_pika.abc import AbstractChannel
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from contracts.events import NOTIFICATION_EVENT_TYPES, EventType
from contracts.headers import FORCE_HEADER, REPLAY_HEADER
from contracts.topology import BROADCAST_BINDING, binding_for_type, routing_key
from messaging.publisher import PublishNotConfirmed, Unroutable, envelope_message, publish_confirmed
from observability.tracing import publish_headers
from tocsin_cli import registry
from tocsin_cli.connections import broker, database, existing_queue
from tocsin_cli.errors import CliError
from tocsin_cli.eventstore import (
    EventFilter,
    StoredEvent,
    count_events,
    ensure_event_store,
    published_events,
)
from tocsin_cli.settings import CliSettings

WINDOW = 64
"""Publishes in flight at once (each confirmed before the window moves on)."""


@dataclass
class ReplaySummary:
    matched: int = 0
    published: int = 0
    skipped: int = 0
    pending: int = 0
    last_position: int | None = None
    notes: list[str] = field(default_factory=list)


def topic_matches(binding: str, key: str) -> bool:
    """AMQP topic semantics: `*` is exactly one word, `#` zero or more."""

    def match(b: list[str], k: list[str]) -> bool:
        if not b:
            return not k
        if b[0] == "#":
            return any(match(b[1:], k[i:]) for i in range(len(k) + 1))
        if not k:
            return False
        return (b[0] == "*" or b[0] == k[0]) and match(b[1:], k[1:])

    return match(binding.split("."), key.split("."))


def _bindings(consumer: str, settings: CliSettings, notes: list[str]) -> list[str] | None:
    """What the consumer binds on the events exchange; None when unknown (replay everything)."""
    if consumer == "realtime":
        return [binding_for_type(t) for t in NOTIFICATION_EVENT_TYPES] + [BROADCAST_BINDING]
    try:
        spec = registry.consumer_spec(consumer, settings.topology)
    except registry.ConsumerNotInstalled as exc:
        notes.append(f"{exc}; replaying every matching event without its binding filter")
        return None
    if spec.exchange != settings.topology.events_exchange:
        raise CliError(
            f"consumer {consumer!r} reads {spec.exchange}, not the events exchange: nothing "
            "in the notification event store is addressed to it"
        )
    return list(spec.bindings)


def _target_queue(consumer: str, instance: str | None, settings: CliSettings) -> str:
    registry.entry(consumer)
    if consumer == "realtime":
        if not instance:
            raise CliError(
                "replay to realtime needs --instance ID (one realtime instance's own queue); "
                "browsers also catch up by themselves with ?since=<seq>"
            )
        return settings.topology.realtime_queue(instance)
    if instance:
        raise CliError("--instance only applies to --consumer realtime")
    return settings.topology.queue(consumer)


async def replay(
    settings: CliSettings,
    consumer: str,
    where: EventFilter,
    *,
    dry_run: bool = False,
    force: bool = False,
    instance: str | None = None,
    console: Console | None = None,
    summary: ReplaySummary | None = None,
) -> ReplaySummary:
    """Publish the matching events to the consumer's queue; returns what happened.

    Raises CliError for an unknown or unsuitable consumer, a missing queue or event store, and
    unreachable servers. `summary` is filled as it goes, so a caller can report an interrupted
    run.
    """
    summary = summary if summary is not None else ReplaySummary()
    queue_name = _target_queue(consumer, instance, settings)
    bindings = _bindings(consumer, settings, summary.notes)
    headers: dict[str, object] = {REPLAY_HEADER: True}
    if force:
        headers[FORCE_HEADER] = True

    async with database(settings) as db, broker(settings) as connection:
        columns = await ensure_event_store(db)
        total, summary.pending = await count_events(db, where)
        channel = None
        if not dry_run:
            if consumer != "realtime":  # an instance's queue is exclusive: no passive declare
                await existing_queue(connection, queue_name)
            channel = await connection.channel(publisher_confirms=True)
        progress = Progress(
            TextColumn(f"replay → {queue_name}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
            disable=dry_run or total < 200,
        )
        with progress:
            task = progress.add_task("replay", total=total)
            window: list[StoredEvent] = []
            async for event in published_events(db, where, columns):
                summary.matched += 1
                key = routing_key(event.envelope.type, event.envelope.user_id)
                if bindings is not None and not any(topic_matches(b, key) for b in bindings):
                    summary.skipped += 1
                    progress.advance(task)
                    continue
                if dry_run:
                    summary.published += 1
                    summary.last_position = event.envelope.position
                    continue
                window.append(event)
                if len(window) >= WINDOW:
                    assert channel is not None
                    await _publish(channel, queue_name, window, headers, summary)
                    progress.advance(task, len(window))
                    window = []
            if window and channel is not None:
                await _publish(channel, queue_name, window, headers, summary)
                progress.advance(task, len(window))
    return summary


async def _publish(
    channel: AbstractChannel,
    queue_name: str,
    events: list[StoredEvent],
    headers: dict[str, object],
    summary: ReplaySummary,
) -> None:
    exchange = channel.default_exchange
    publishes = [
        publish_confirmed(
            exchange,
            envelope_message(
                event.envelope,
                {**headers, **publish_headers(event.traceparent)},
            ),
            queue_name,
            mandatory=True,
        )
        for event in events
    ]
    results = await asyncio.gather(*publishes, return_exceptions=True)
    for event, result in zip(events, results, strict=True):
        if isinstance(result, Unroutable):
            raise CliError(
                f"queue {queue_name!r} does not exist (any more): is the consumer or "
                "instance running? (`tocsin topology declare` for durable queues)"
            )
        if isinstance(result, PublishNotConfirmed):
            raise CliError(
                f"the broker did not confirm event {event.envelope.event_id} ({result}); "
                f"re-run with --from-position {event.envelope.position}"
            )
        if isinstance(result, BaseException):
            raise result
        summary.published += 1
        summary.last_position = event.envelope.position


def parse_event_type(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return EventType(value).value
    except ValueError:
        raise CliError(
            f"unknown event type {value!r}; known: {', '.join(t.value for t in EventType)}"
        ) from None
