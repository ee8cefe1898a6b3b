"""Running the real `tocsin` console script against this test's own broker namespace."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from contracts.topology import Topology
from messaging.topology import consumer_queue_names
from tests.cli.eventstore import EventStore
from tests.support.cli import Cli
from tocsin_cli import registry

JWT_SECRET = "cli-test-secret"


@pytest.fixture
def cli_env(topology: Topology, amqp_url: str, database_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "TOCSIN_DEV_ENV": str(tmp_path / "no-local-run"),
        "TOCSIN_NAMESPACE": topology.namespace,
        "AMQP_URL": amqp_url,
        "DATABASE_URL": database_url,
        "JWT_SECRET": JWT_SECRET,
        "TOCSIN_SERVICE_URLS": "",
        "TOCSIN_REALTIME_URLS": "",
    }


@pytest.fixture
def cli(cli_env: dict[str, str]) -> Cli:
    return Cli(cli_env)


@pytest.fixture
async def declared(
    cli: Cli, topology: Topology, broker_cleanup: list[str]
) -> AsyncIterator[Topology]:
    """The test namespace with `tocsin topology declare` run; every queue deleted afterwards."""
    result = await cli("topology", "declare")
    assert result.exit_code == 0, result.stderr
    for entry in registry.durable_consumers():
        try:
            spec = registry.consumer_spec(entry.name, topology)
        except registry.ConsumerNotInstalled:
            continue
        broker_cleanup.extend(consumer_queue_names(topology, spec.name, spec.retry_delays_ms))
    yield topology


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[EventStore]:
    events = EventStore(database_url)
    yield events
    await events.remove_added()
