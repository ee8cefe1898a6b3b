"""A notification service killed with SIGKILL mid-ingestion loses no incident event and, once
restarted, creates no notification twice (unacked messages come back; event ids dedupe)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.topology import Topology
from messaging.incidents import IncidentPublisher
from tests.incidents.samples import sample_created_event
from tests.support.infra import free_port
from tests.support.processes import ServiceProcess
from tests.support.waiting import eventually

EVENTS = 400


def service(database_url: str, amqp_url: str, topology: Topology) -> ServiceProcess:
    port = free_port()
    return ServiceProcess.python_module(
        f"incidents-{topology.namespace}-{port}",
        "services.notification",
        {
            "PORT": str(port),
            "HOST": "127.0.0.1",
            "DATABASE_URL": database_url,
            "AMQP_URL": amqp_url,
            "TOCSIN_NAMESPACE": topology.namespace,
            "JWT_SECRET": "incident-crash-test",
            "RELAY_ENABLED": "false",
            "DELIVERIES_ENABLED": "false",
            "LOG_LEVEL": "WARNING",
            "DB_POOL_SIZE": "4",
        },
        health_url=f"http://127.0.0.1:{port}/healthz",
    )


@pytest.fixture
def processes() -> Iterator[list[ServiceProcess]]:
    started: list[ServiceProcess] = []
    yield started
    for process in started:
        process.kill()


async def counts(engine: AsyncEngine, incident_ids: list[str]) -> dict[str, int]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT entity_id, count(*) AS n FROM notification.notifications "
                "WHERE entity_id = ANY(:ids) GROUP BY entity_id"
            ),
            {"ids": incident_ids},
        )
        return {row.entity_id: row.n for row in rows}


async def test_kill_9_mid_ingestion_then_restart_notifies_everyone_exactly_once(
    database_url: str,
    amqp_url: str,
    topology: Topology,
    incident_queues: list[str],
    engine: AsyncEngine,
    processes: list[ServiceProcess],
) -> None:
    events = [sample_created_event(watchers=1, team=0) for _ in range(EVENTS)]
    incident_ids = [e.incident.id for e in events]
    async with IncidentPublisher(amqp_url, namespace=topology.namespace) as publisher:
        for event in events:
            await publisher.publish(event)

    first = service(database_url, amqp_url, topology)
    processes.append(first)
    first.start()
    await eventually(
        lambda: counts(engine, incident_ids),
        lambda seen: len(seen) >= 20,
        timeout=60,
        what="the first process to ingest some events",
    )
    first.kill()
    partial = len(await counts(engine, incident_ids))

    second = service(database_url, amqp_url, topology)
    processes.append(second)
    second.start()
    seen = await eventually(
        lambda: counts(engine, incident_ids),
        lambda seen: len(seen) == EVENTS,
        timeout=90,
        what="every incident to have its notification",
    )
    second.stop()

    assert partial < EVENTS, "the kill came too late to prove anything"
    assert set(seen.values()) == {1}, {k: v for k, v in seen.items() if v != 1}
