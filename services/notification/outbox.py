"""The outbox relay: publishes committed events to RabbitMQ in order, losing nothing.

The events are split into `partitions` by a hash of the user id (services/notification/
partitions.py; one partition by default). One relay is active per partition at a time: it
holds the partition's session-level advisory lock on its own Postgres connection; other
copies retry the lock every `lock_poll_interval_s` and take over when the holder's session
ends (crash, kill, network loss). The relays of several processes share the partitions: each
process holds at most its fair share of them (services/notification/relay_share.py), so a
second process takes half the partitions over from the first, and the survivors take a dead
process's partitions.

The active relay wakes on `LISTEN tocsin_events` and also polls. It reads the oldest
committed events that have no global position yet (insertion order) and gives them the next
positions from a sequence, in one read-only round trip; publishes them in that order
(pipelined, on a channel with publisher confirms, `mandatory`, persistent JSON,
`message_id = event_id`); waits for every confirm; and only then records the positions, in
the same round trip that reads the next batch. So an event's path from commit to broker is
one query, and a busy relay costs one round trip per batch. Nothing is recorded for a batch
that was not confirmed: after any failure (or a crash) it is read and published again, with
new positions (a sequence never hands a value out twice), and consumers dedupe by
`event_id`. Positions are recorded batch after batch on one connection, so they become
visible in order.

An unroutable event (no queue bound for it) is logged and counted, not retried: it stays in
the store for replay. A broker or database outage makes the relay retry with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import aio_pika
import asyncpg
import orjson
from aio_pika.abc import AbstractExchange

from contracts.timestamps import rfc3339
from contracts.topology import Topology, routing_key
from database.engine import plain_url
from database.partitions import ensure_partitions, lock_key, partition_filter
from messaging import brokers
from messaging.publisher import Unroutable, publish_confirmed
from messaging.topology import declare_events_exchange
from observability.tracing import publish_headers
from services.notification import metrics
from services.notification.lanes import (
    DEFAULT_URGENT_PRIORITIES,
    oldest_waiting,
    urgent_condition,
)
from services.notification.relay_share import RelayShare, keep_membership, relay_session_settings
from services.notification.wakeup import NOTIFY_CHANNEL

logger = logging.getLogger(__name__)

RELAY_HEADER = "x-tocsin-relay"

_EVENT_COLUMNS = """id, event_id::text AS event_id, type, user_id, occurred_at, schema_version,
       seq, data::text AS data, stats::text AS stats, traceparent,
       nextval('notification.event_position') AS position"""

_IN_PARTITION = partition_filter("user_id", "$2", "$3")

_ROW_COLUMNS = (
    "id, event_id, type, user_id, occurred_at, schema_version, seq, data, stats, traceparent"
)


def _batch_statement(*, partitioned: bool, marking: bool, urgent: bool) -> str:
    """The statement that reads the next batch, each event with a fresh position.

    Parameters: `$1` the batch size; partitioned: `$2` partitions, `$3` this one; marking:
    the ids and positions of the confirmed batch to record; urgent: the urgent priorities.
    Without the urgent lane the batch is the oldest unpublished events (insertion order).
    With it, the batch is first every unpublished event, up to and including the newest
    urgent one, of each user who has an urgent event waiting (so that user's order is
    kept), then the oldest other unpublished events. The users' events are read user by
    user (LATERAL, by index `events_unpublished_by_user`) so a backlog is never scanned."""
    n = 1
    in_partition = ""
    if partitioned:
        in_partition = " AND " + _IN_PARTITION
        n = 3
    marked = ""
    not_marked = ""
    if marking:
        ids, positions = f"${n + 1}", f"${n + 2}"
        n += 2
        marked = f"""marked AS (
    UPDATE notification.events AS e SET position = p.position, published_at = now()
    FROM unnest({ids}::bigint[], {positions}::bigint[]) AS p(id, position)
    WHERE e.id = p.id
)"""
        not_marked = f" AND id <> ALL({ids})"
    if not urgent:
        return f"""{"WITH " + marked if marked else ""}
SELECT {_EVENT_COLUMNS}
FROM notification.events
WHERE position IS NULL{in_partition}{not_marked} ORDER BY id LIMIT $1
"""
    urgent_param = f"${n + 1}"
    return f"""WITH {marked + "," if marked else ""}
urgent_users AS (
    SELECT user_id, max(id) AS upto FROM notification.events
    WHERE position IS NULL AND {urgent_condition(urgent_param)}{in_partition}{not_marked}
    GROUP BY user_id
),
urgent_lane AS (
    SELECT e.* FROM urgent_users AS u
    CROSS JOIN LATERAL (
        SELECT {_ROW_COLUMNS} FROM notification.events
        WHERE user_id = u.user_id AND position IS NULL AND id <= u.upto{not_marked}
        ORDER BY id LIMIT $1
    ) AS e
    ORDER BY e.id LIMIT $1
),
normal_lane AS (
    SELECT {_ROW_COLUMNS} FROM notification.events
    WHERE position IS NULL{in_partition}{not_marked}
      AND id NOT IN (SELECT id FROM urgent_lane)
    ORDER BY id LIMIT $1 - (SELECT count(*) FROM urgent_lane)
)
SELECT {_EVENT_COLUMNS}
FROM (SELECT * FROM urgent_lane UNION ALL SELECT * FROM normal_lane) AS batch
"""


_NEXT_BATCH = _batch_statement(partitioned=False, marking=False, urgent=False)
"""The oldest unpublished events (insertion order), each with a fresh position. Only the
sequence is written, so no row is locked and the read seldom waits for a WAL flush (a
sequence logs once per 32 values). A position handed out is never handed out again, even if
the batch is never recorded: an event published again gets a later one."""

_MARK_AND_NEXT = _batch_statement(partitioned=False, marking=True, urgent=False)
"""Records the positions of a confirmed batch (`$2` ids, `$3` positions) and reads the next
batch in the same statement. The read sees the rows as they were before the update, so the
batch being recorded is left out by id."""

_NEXT_PARTITION_BATCH = _batch_statement(partitioned=True, marking=False, urgent=False)
"""`_NEXT_BATCH` for one of several partitions (`$2` partitions, `$3` this one)."""

_MARK_AND_NEXT_PARTITION = _batch_statement(partitioned=True, marking=True, urgent=False)
"""`_MARK_AND_NEXT` for one partition (`$4` ids, `$5` positions)."""

_URGENT_STATEMENTS = {
    (partitioned, marking): _batch_statement(partitioned=partitioned, marking=marking, urgent=True)
    for partitioned in (False, True)
    for marking in (False, True)
}
"""The four statements above with the urgent lane (the urgent priorities the last
parameter), by (partitioned, marking)."""


_COUNT_UNPUBLISHED = "SELECT count(*) FROM notification.events WHERE position IS NULL"
LAG_CHECK_INTERVAL_S = 1.0


class Published(NamedTuple):
    """An event the broker confirmed: its row id and the position it was published with."""

    id: int
    position: int


async def next_batch(
    conn: asyncpg.Connection,
    limit: int,
    partition: int = 0,
    partitions: int = 1,
    urgent: Sequence[str] = (),
) -> list[asyncpg.Record]:
    """Up to `limit` unpublished events of one partition, each with a fresh position: the
    oldest, or with `urgent` priorities the urgent lane's first (`_batch_statement`)."""
    args: list[object] = [limit]
    if partitions > 1:
        args += [partitions, partition]
    if urgent:
        statement = _URGENT_STATEMENTS[partitions > 1, False]
        args.append(list(urgent))
    else:
        statement = _NEXT_BATCH if partitions == 1 else _NEXT_PARTITION_BATCH
    return await conn.fetch(statement, *args)


async def record_and_next_batch(
    conn: asyncpg.Connection,
    published: Sequence[Published],
    limit: int,
    partition: int = 0,
    partitions: int = 1,
    urgent: Sequence[str] = (),
) -> list[asyncpg.Record]:
    """Record the positions of a confirmed batch and return the next one (one round trip)."""
    args: list[object] = [limit]
    if partitions > 1:
        args += [partitions, partition]
    args += [[event.id for event in published], [event.position for event in published]]
    if urgent:
        statement = _URGENT_STATEMENTS[partitions > 1, True]
        args.append(list(urgent))
    else:
        statement = _MARK_AND_NEXT if partitions == 1 else _MARK_AND_NEXT_PARTITION
    return await conn.fetch(statement, *args)


@dataclass
class RelayStats:
    published: int = 0
    unroutable: int = 0
    batches: int = 0
    failures: int = 0


@dataclass
class Relay:
    """Run with `await relay.run()` until cancelled."""

    database_url: str
    amqp_url: str
    topology: Topology
    batch_size: int = 200
    poll_interval_s: float = 1.0
    lock_poll_interval_s: float = 1.0
    publish_timeout_s: float = 10.0
    max_backoff_s: float = 10.0
    partition: int = 0
    partitions: int = 1
    urgent_priorities: tuple[str, ...] = DEFAULT_URGENT_PRIORITIES
    """The priorities of the urgent lane (services/notification/lanes.py); empty: none,
    every event in insertion order."""
    share: RelayShare | None = None
    """Shared by the relays of one process: how many partitions it may hold at once."""
    relay_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    stats: RelayStats = field(default_factory=RelayStats)
    active: bool = False
    _wake: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    def wake(self) -> None:
        """Publish now rather than at the next notification or poll (same process only)."""
        self._wake.set()

    async def run(self) -> None:
        backoff = 0.2
        while True:
            try:
                await self._session()
                backoff = 0.2
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.stats.failures += 1
                metrics.RELAY_FAILURES.inc()
                logger.warning(
                    "relay interrupted, retrying in %.1fs: %r",
                    backoff,
                    exc,
                    extra={"relay_id": self.relay_id},
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff_s)

    async def _session(self) -> None:
        conn = await asyncpg.connect(
            plain_url(self.database_url), timeout=10, server_settings=relay_session_settings()
        )
        holding = False
        try:
            await ensure_partitions(conn, self.partitions)
            await self._lock(conn)
            holding = True
            logger.info(
                "relay active", extra={"relay_id": self.relay_id, "partition": self.partition}
            )
            wake = self._wake
            await conn.add_listener(NOTIFY_CHANNEL, lambda *_: wake.set())
            broker = await brokers.connect(self.amqp_url, timeout=10)
            try:
                channel = await broker.channel(publisher_confirms=True)
                exchange = await declare_events_exchange(channel, self.topology)
                self.active = True
                metrics.RELAY_ACTIVE.inc()
                lag_checked = 0.0
                while True:
                    wake.clear()
                    batch = await next_batch(
                        conn, self.batch_size, *self._partition, self.urgent_priorities
                    )
                    while batch:
                        published = await self.publish(batch, exchange)
                        wake.clear()
                        batch = await record_and_next_batch(
                            conn,
                            published,
                            self.batch_size,
                            *self._partition,
                            self.urgent_priorities,
                        )
                        self._count(len(published))
                        if len(batch) < self.batch_size:
                            metrics.RELAY_LAG.set(0)
                            metrics.set_oldest_waiting(None, None)
                        elif time.monotonic() - lag_checked > LAG_CHECK_INTERVAL_S:
                            lag_checked = time.monotonic()
                            metrics.RELAY_LAG.set(await conn.fetchval(_COUNT_UNPUBLISHED))
                            metrics.set_oldest_waiting(
                                *await oldest_waiting(conn, self.urgent_priorities)
                            )
                        if self._yields():
                            return
                    if self._yields():
                        return
                    # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel.
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.poll_interval_s):
                            await wake.wait()
            finally:
                if self.active:  # a session that failed before publishing never counted itself
                    metrics.RELAY_ACTIVE.dec()
                self.active = False
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(2):
                        await broker.close()
        finally:
            conn.terminate()  # ends the session: its partition lock goes with it
            if holding and self.share is not None:
                self.share.release(self.partition)

    @property
    def _partition(self) -> tuple[int, int]:
        return self.partition, self.partitions

    def _yields(self) -> bool:
        """Whether this relay gives its partition up (its process holds more than its share);
        checked between batches, so nothing unconfirmed is left behind."""
        if self.share is None or not self.share.must_yield(self.partition):
            return False
        logger.info(
            "relay yields its partition to another process",
            extra={"relay_id": self.relay_id, "partition": self.partition},
        )
        return True

    async def _lock(self, conn: asyncpg.Connection) -> None:
        """Wait until this relay holds its partition's lock, trying only while its process has
        room for one more partition in its share."""
        key = lock_key(self.partition)
        share = self.share
        while True:
            if share is None or share.reserve(self.partition):
                try:
                    locked = await conn.fetchval("SELECT pg_try_advisory_lock($1)", key)
                except BaseException:
                    if share is not None:
                        share.release(self.partition)
                    raise
                if locked:
                    return
                if share is not None:
                    share.release(self.partition)
            await asyncio.sleep(self.lock_poll_interval_s)

    async def publish(
        self, batch: Sequence[asyncpg.Record], exchange: AbstractExchange
    ) -> list[Published]:
        """Publish a batch from `next_batch` in insertion order, numbered in that order, and
        wait for every confirm; returns what `record_and_next_batch` records. Raises on any
        failure other than an unroutable event: nothing is recorded, so the batch will be
        read and published again."""
        rows = sorted(batch, key=lambda r: r["id"])
        # The positions were drawn in scan order; giving the smallest to the oldest event
        # keeps each user's events in seq order whatever order the server drew them in.
        positions = sorted(row["position"] for row in rows)
        # Tasks reach the channel's publish lock in creation order, so the broker gets the
        # messages in position order while their confirms are awaited together.
        results = await asyncio.gather(
            *(
                publish_confirmed(
                    exchange,
                    self._message(row, position),
                    routing_key(row["type"], row["user_id"]),
                    timeout=self.publish_timeout_s,
                )
                for row, position in zip(rows, positions, strict=True)
            ),
            return_exceptions=True,
        )
        unroutable = 0
        for row, result in zip(rows, results, strict=True):
            if isinstance(result, Unroutable):
                unroutable += 1
                logger.debug(
                    "event unroutable: no queue bound",
                    extra={"event_id": row["event_id"], "user_id": row["user_id"]},
                )
            elif isinstance(result, BaseException):
                raise result
        if unroutable:
            self.stats.unroutable += unroutable
            metrics.RELAY_UNROUTABLE.inc(unroutable)
            logger.warning(
                "%d of %d events unroutable (no queue bound); kept in the store for replay",
                unroutable,
                len(rows),
            )
        return [
            Published(row["id"], position) for row, position in zip(rows, positions, strict=True)
        ]

    def _count(self, published: int) -> None:
        self.stats.published += published
        metrics.RELAY_PUBLISHED.inc(published)
        self.stats.batches += 1

    def _message(self, row: asyncpg.Record, position: int) -> aio_pika.Message:
        """The same message `messaging.publisher.envelope_message` builds, assembled from the
        stored JSON without re-validating it."""
        seq = "null" if row["seq"] is None else str(int(row["seq"]))
        body = (
            f'{{"event_id":"{row["event_id"]}","type":"{row["type"]}",'
            f'"schema_version":"{row["schema_version"]}",'
            f'"occurred_at":"{rfc3339(row["occurred_at"])}",'
            f'"user_id":{_json_string(row["user_id"])},"seq":{seq},"position":{position},'
            f'"data":{row["data"]},"stats":{row["stats"] or "null"}}}'
        )
        return aio_pika.Message(
            body=body.encode(),
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=row["event_id"],
            type=row["type"],
            timestamp=row["occurred_at"],
            headers={
                "schema_version": row["schema_version"],
                RELAY_HEADER: self.relay_id,
                **publish_headers(row["traceparent"]),
            },
        )


def _json_string(value: str) -> str:
    return orjson.dumps(value).decode()


@dataclass
class RelayGroup:
    """The relays of one process: one per partition, at most its share of them active at once
    (`share`, kept current by `keep_membership` while the group runs). Run with
    `await group.run()` until cancelled."""

    relays: list[Relay]
    share: RelayShare | None = None
    database_url: str = ""
    membership_interval_s: float = 1.0

    def wake(self) -> None:
        for relay in self.relays:
            relay.wake()

    @property
    def active_partitions(self) -> list[int]:
        return [relay.partition for relay in self.relays if relay.active]

    async def run(self) -> None:
        tasks = [relay.run() for relay in self.relays]
        if self.share is not None:
            tasks.append(keep_membership(self.share, self.database_url, self.membership_interval_s))
        await asyncio.gather(*tasks)
