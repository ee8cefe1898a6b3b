"""Fixtures in layers: session (servers, a fresh migrated database) → test (unique broker names).

Every test run gets its own database (dropped at the end) and every test its own broker
namespace, so runs and tests never see each other's rows or messages.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator

import aio_pika
import pytest

from contracts.topology import Topology
from tests.support import infra
from tests.support.databases import migrated_database


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Remove broker objects this run left behind (a killed process, a failed teardown)."""
    url = os.environ.get("TEST_AMQP_URL") or infra.LOCAL_AMQP_URL
    if infra.reachable(url, 5672):
        infra.sweep_broker(url, infra.run_prefix())


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    try:
        return infra.locate_postgres()
    except RuntimeError as exc:
        pytest.exit(str(exc), returncode=3)


@pytest.fixture(scope="session")
def amqp_url() -> str:
    try:
        return infra.locate_rabbitmq()
    except RuntimeError as exc:
        pytest.exit(str(exc), returncode=3)


@pytest.fixture(scope="session")
def database_url(postgres_server_url: str) -> Iterator[str]:
    with migrated_database(postgres_server_url) as url:
        yield url


@pytest.fixture
def topology() -> Topology:
    """A broker namespace of this test's own: `tocsin-test-<hex>.events` and so on."""
    return Topology(namespace=infra.unique_namespace())


@pytest.fixture
async def amqp_connection(amqp_url: str) -> AsyncIterator[aio_pika.abc.AbstractRobustConnection]:
    connection = await aio_pika.connect_robust(amqp_url)
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture
async def broker_cleanup(
    amqp_connection: aio_pika.abc.AbstractRobustConnection, topology: Topology
) -> AsyncIterator[list[str]]:
    """Append queue names to the yielded list; they and the test's exchanges are deleted after."""
    queues: list[str] = []
    yield queues
    channel = await amqp_connection.channel()
    for name in queues:
        try:
            await channel.queue_delete(name)
        except Exception:
            channel = await amqp_connection.channel()
    for exchange in (topology.events_exchange, topology.incidents_exchange):
        try:
            await channel.exchange_delete(exchange)
        except Exception:
            channel = await amqp_connection.channel()
    await asyncio.sleep(0)
