"""Group commit for incident ingestion.

Message handlers run concurrently (up to the queue's prefetch); each hands its event to the
`IngestBatcher` and waits. One loop takes every event waiting at that moment and ingests them
in one transaction (`ingest_batch`), so under load many events share one commit, and an idle
system still handles a lone event at once (nothing waits for a batch to fill).

If a batch fails (a database error, a deadlock with another process), each of its events is
tried again alone (`ingest`), so one event's failure is its own: the others still succeed,
and the failing one's handler gets the error (and its message is retried or dead-lettered).
When the database itself is unreachable (`database.outages.is_outage`), every event of the
batch fails at once instead (no point in trying a hundred times). Only one batch runs at a
time per process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.incidents import IncidentEvent
from database.outages import is_outage
from observability.tracing import TraceContext, current_trace
from services.notification.incidents.ingest import IngestResult, ingest, ingest_batch
from services.notification.incidents.metrics import BATCH_SIZE
from services.notification.incidents.rules import IncidentRules

logger = logging.getLogger(__name__)

MAX_BATCH = 100


@dataclass
class _Pending:
    event: IncidentEvent
    trace: TraceContext | None
    done: asyncio.Future[IngestResult] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class IngestBatcher:
    def __init__(
        self,
        engine: AsyncEngine,
        rules: IncidentRules,
        max_batch: int = MAX_BATCH,
        on_events: Callable[[], None] = lambda: None,
    ) -> None:
        """`on_events` is called after each commit that appended events (wakes the relay)."""
        self.engine = engine
        self.rules = rules
        self.max_batch = max_batch
        self.on_events = on_events
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()

    async def submit(self, event: IncidentEvent) -> IngestResult:
        """Ingest `event` with whatever else is waiting; raises what `ingest` would raise."""
        pending = _Pending(event, current_trace())
        await self._queue.put(pending)
        return await pending.done

    async def run(self) -> None:
        """Ingest batches until cancelled; pending submitters are cancelled with it."""
        try:
            while True:
                batch = [await self._queue.get()]
                while len(batch) < self.max_batch and not self._queue.empty():
                    batch.append(self._queue.get_nowait())
                await self._ingest(batch)
        finally:
            while not self._queue.empty():
                self._queue.get_nowait().done.cancel()

    async def _ingest(self, batch: list[_Pending]) -> None:
        BATCH_SIZE.observe(len(batch))
        try:
            outcomes = await ingest_batch(
                self.engine,
                [p.event for p in batch],
                self.rules,
                self.on_events,
                [p.trace for p in batch],
            )
        except asyncio.CancelledError:
            for pending in batch:
                pending.done.cancel()
            raise
        except Exception as exc:
            if is_outage(exc) or len(batch) == 1:
                self._fail(batch, exc)
                return
            logger.warning("incident batch of %d failed, retrying one by one: %r", len(batch), exc)
            for index, pending in enumerate(batch):
                error = await self._ingest_alone(pending)
                if error is not None and is_outage(error):
                    self._fail(batch[index + 1 :], error)
                    return
            return
        for pending, outcome in zip(batch, outcomes, strict=True):
            if pending.done.done():
                continue
            if isinstance(outcome, Exception):
                pending.done.set_exception(outcome)
            else:
                pending.done.set_result(outcome)

    @staticmethod
    def _fail(batch: list[_Pending], error: Exception) -> None:
        for pending in batch:
            if not pending.done.done():
                pending.done.set_exception(error)

    async def _ingest_alone(self, pending: _Pending) -> Exception | None:
        """Ingest one event in its own transaction; returns the error it failed with."""
        try:
            result = await ingest(
                self.engine, pending.event, self.rules, self.on_events, pending.trace
            )
        except asyncio.CancelledError:
            pending.done.cancel()
            raise
        except Exception as exc:
            self._fail([pending], exc)
            return exc
        if not pending.done.done():
            pending.done.set_result(result)
        return None


@contextlib.asynccontextmanager
async def running_batcher(
    engine: AsyncEngine,
    rules: IncidentRules,
    on_events: Callable[[], None] = lambda: None,
    max_batch: int = MAX_BATCH,
) -> AsyncIterator[IngestBatcher]:
    batcher = IngestBatcher(engine, rules, max_batch, on_events)
    task = asyncio.create_task(batcher.run(), name="incident-ingest-batcher")
    try:
        yield batcher
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
