"""The outbox relay: publishes committed events to RabbitMQ in order, losing nothing.

One relay is active at a time: it holds a session-level advisory lock on its own Postgres
connection; other copies retry the lock every `lock_poll_interval_s` and take over when the
holder's session ends (crash, kill, network loss).

The active relay wakes on `LISTEN tocsin_events` and also polls. Each round, in one
transaction, it takes the oldest committed events that have no global position yet (in
insertion order), gives them the next positions, publishes them (pipelined, in that order, on
a channel with publisher confirms, `mandatory`, persistent JSON, `message_id = event_id`),
waits for every confirm and only then commits. A failure before the commit rolls the
positions back, so the events are published again: consumers dedupe by `event_id`.

An unroutable event (no queue bound for it) is logged and counted, not retried: it stays in
the store for replay. A broker or database outage makes the relay retry with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass, field

import aio_pika
import asyncpg
import orjson
from aio_pika.abc import AbstractExchange

from contracts.topology import Topology, routing_key
from database.engine import plain_url
from messaging.publisher import Unroutable, publish_confirmed
from messaging.topology import declare_events_exchange
from observability.tracing import publish_headers
from services.notification import metrics
from services.notification.wakeup import NOTIFY_CHANNEL

logger = logging.getLogger(__name__)

LOCK_KEY = 0x746F6373696E  # "tocsin": one relay per database
RELAY_HEADER = "x-tocsin-relay"

_CLAIM_BATCH = """
WITH batch AS (
    SELECT id, row_number() OVER (ORDER BY id) AS rn, count(*) OVER () AS n
    FROM (SELECT id FROM notification.events WHERE position IS NULL ORDER BY id LIMIT $1) AS b
),
base AS (
    SELECT setval('notification.event_position',
                  nextval('notification.event_position') + max(n) - 1) - max(n) AS before
    FROM batch HAVING count(*) > 0
)
UPDATE notification.events AS e
SET position = base.before + batch.rn, published_at = now()
FROM batch, base
WHERE e.id = batch.id
RETURNING e.event_id::text AS event_id, e.type, e.user_id, e.occurred_at, e.schema_version,
          e.seq, e.data::text AS data, e.stats::text AS stats, e.position, e.traceparent
"""
"""Gives the oldest unpublished events (insertion order) the next positions, in one round
trip. Only the relay holding the advisory lock runs it."""


_COUNT_UNPUBLISHED = "SELECT count(*) FROM notification.events WHERE position IS NULL"
LAG_CHECK_INTERVAL_S = 1.0


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
        conn = await asyncpg.connect(plain_url(self.database_url), timeout=10)
        try:
            while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY):  # noqa: ASYNC110 - polling another process's lock
                await asyncio.sleep(self.lock_poll_interval_s)
            logger.info("relay active", extra={"relay_id": self.relay_id})
            wake = self._wake
            await conn.add_listener(NOTIFY_CHANNEL, lambda *_: wake.set())
            broker = await aio_pika.connect(self.amqp_url, timeout=10)
            try:
                channel = await broker.channel(publisher_confirms=True)
                exchange = await declare_events_exchange(channel, self.topology)
                self.active = True
                metrics.RELAY_ACTIVE.set(1)
                lag_checked = 0.0
                while True:
                    wake.clear()
                    published = await self.publish_batch(conn, exchange)
                    if published < self.batch_size:
                        metrics.RELAY_LAG.set(0)
                    elif time.monotonic() - lag_checked > LAG_CHECK_INTERVAL_S:
                        lag_checked = time.monotonic()
                        metrics.RELAY_LAG.set(await conn.fetchval(_COUNT_UNPUBLISHED))
                    if published >= self.batch_size:
                        continue
                    # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel.
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.poll_interval_s):
                            await wake.wait()
            finally:
                self.active = False
                metrics.RELAY_ACTIVE.set(0)
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(2):
                        await broker.close()
        finally:
            conn.terminate()

    async def publish_batch(self, conn: asyncpg.Connection, exchange: AbstractExchange) -> int:
        """Publish the next batch; returns how many events it held. Raises on any failure
        other than an unroutable event, after rolling back (the batch will be retried)."""
        async with conn.transaction():
            claimed = await conn.fetch(_CLAIM_BATCH, self.batch_size)
            if not claimed:
                return 0
            rows = sorted(claimed, key=lambda r: r["position"])
            # Tasks reach the channel's publish lock in creation order, so the broker gets
            # the messages in position order while their confirms are awaited together.
            results = await asyncio.gather(
                *(
                    publish_confirmed(
                        exchange,
                        self._message(row),
                        routing_key(row["type"], row["user_id"]),
                        timeout=self.publish_timeout_s,
                    )
                    for row in rows
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
        self.stats.published += len(rows)
        metrics.RELAY_PUBLISHED.inc(len(rows))
        self.stats.batches += 1
        return len(rows)

    def _message(self, row: asyncpg.Record) -> aio_pika.Message:
        """The same message `messaging.publisher.envelope_message` builds, assembled from the
        stored JSON without re-validating it."""
        seq = "null" if row["seq"] is None else str(int(row["seq"]))
        body = (
            f'{{"event_id":"{row["event_id"]}","type":"{row["type"]}",'
            f'"schema_version":"{row["schema_version"]}",'
            f'"occurred_at":"{row["occurred_at"].isoformat()}",'
            f'"user_id":{_json_string(row["user_id"])},"seq":{seq},"position":{row["position"]},'
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
