"""The notification service's background workers: which ones a process runs, what each gets,
and how they are started, supervised and stopped.

`app.py` runs them in its lifespan; `python -m services.notification relay` runs the relays
alone. Each worker is a thin adapter from the `WorkerContext` to a consumer or loop that
takes its inputs as explicit arguments (engine, URLs, topology, rules, intervals).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from database.partitions import check_partitions
from services.notification.deliveries import consume_deliveries
from services.notification.housekeeping import purge_idempotency_keys
from services.notification.incidents import consume_incidents
from services.notification.incidents.metrics import record_outcome
from services.notification.incidents.rules import load_rules
from services.notification.outbox import Relay, RelayGroup
from services.notification.relay_share import RelayShare
from services.notification.service import NotificationService
from services.notification.settings import Settings
from services.notification.wakeup import RelayWakeup

logger = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT_S = 5.0
RESTART_PAUSE_S = 1.0


@dataclass(frozen=True)
class WorkerContext:
    """What a background worker gets: the settings, the service layer and this process's
    relays (None when it runs none)."""

    settings: Settings
    service: NotificationService
    relay: RelayGroup | None = None


Worker = Callable[[WorkerContext], Awaitable[None]]
"""A long-running coroutine started in the lifespan and cancelled at shutdown."""


def relay_for(settings: Settings, partition: int = 0, share: RelayShare | None = None) -> Relay:
    return Relay(
        database_url=settings.database_url,
        amqp_url=settings.amqp_url,
        topology=settings.topology,
        batch_size=settings.relay_batch_size,
        poll_interval_s=settings.relay_poll_interval_s,
        partition=partition,
        partitions=settings.relay_partitions,
        urgent_priorities=settings.urgent_priorities,
        share=share,
    )


def relays_for(settings: Settings) -> RelayGroup:
    """One relay per partition; with several, at most this process's share of them active
    (its fair share among the relaying processes, within RELAY_MAX_PARTITIONS)."""
    partitions = settings.relay_partitions
    if partitions == 1:
        return RelayGroup([relay_for(settings)])
    share = RelayShare(partitions, cap=settings.relay_max_partitions)
    return RelayGroup(
        [relay_for(settings, p, share) for p in range(partitions)],
        share=share,
        database_url=settings.database_url,
    )


async def process_relays(settings: Settings, workers: Sequence[Worker]) -> RelayGroup | None:
    """The relays this process runs (None unless `run_relay` is among `workers`), after
    checking that the partition count in use is the configured one (raises otherwise)."""
    if run_relay not in workers:
        return None
    await check_partitions(settings.database_url, settings.relay_partitions)
    return relays_for(settings)


async def run_relay(context: WorkerContext) -> None:
    await (context.relay or relays_for(context.settings)).run()


async def run_deliveries(context: WorkerContext) -> None:
    """Record delivery outcomes (setting DELIVERIES_ENABLED)."""
    settings = context.settings
    await consume_deliveries(context.service.engine, settings.amqp_url, settings.topology)


def incident_worker(rules_path: Path | None = None) -> Worker:
    """Consume incident events (setting INCIDENTS_ENABLED).

    The rules are read and checked now, so a broken rules file stops the service's start
    with InvalidRules instead of failing on the first event.
    """
    rules = load_rules(rules_path)

    async def run_incidents(context: WorkerContext) -> None:
        settings = context.settings
        service = context.service
        await consume_incidents(
            service.engine,
            settings.amqp_url,
            settings.topology,
            rules,
            on_outcome=record_outcome,
            on_events=service.on_events,
            link_hosts=service.link_hosts,
        )

    return run_incidents


async def run_housekeeping(context: WorkerContext) -> None:
    """Purge expired idempotency keys every IDEMPOTENCY_PURGE_INTERVAL_S."""
    await purge_idempotency_keys(context.service, context.settings.idempotency_purge_interval_s)


def default_workers(settings: Settings) -> list[Worker]:
    """The background workers the API process runs (the outbox relay unless disabled)."""
    workers: list[Worker] = []
    if settings.relay_enabled:
        workers.append(run_relay)
    if settings.incidents_enabled:
        workers.append(incident_worker(settings.incident_rules_path))
    if settings.deliveries_enabled:
        workers.append(run_deliveries)
    workers.append(run_housekeeping)
    return workers


@contextlib.asynccontextmanager
async def running_workers(
    workers: Sequence[Worker], context: WorkerContext, wakeup: RelayWakeup
) -> AsyncIterator[None]:
    """Run each worker (supervised) and the relay wake-up for the duration of the block;
    at its end cancel them and wait up to SHUTDOWN_TIMEOUT_S (a task still running then is
    logged and left behind)."""
    tasks = [asyncio.create_task(supervised(worker, context)) for worker in workers]
    tasks.append(asyncio.create_task(wakeup.run()))
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        _, stuck = await asyncio.wait(tasks, timeout=SHUTDOWN_TIMEOUT_S)
        for task in stuck:
            logger.warning("background task %s did not stop in time", task.get_name())


async def supervised(worker: Worker, context: WorkerContext) -> None:
    """Run a worker; if it crashes, log and restart it after a pause (until cancelled)."""
    while True:
        try:
            await worker(context)
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            name = getattr(worker, "__name__", repr(worker))
            logger.exception("background worker %s crashed; restarting", name)
            await asyncio.sleep(RESTART_PAUSE_S)
