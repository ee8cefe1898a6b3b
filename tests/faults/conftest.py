"""Fault tests run the whole pipeline as real processes (tests/support/system.py); those that
stop a broker or a database use private servers the test starts and stops itself."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.databases import migrate_all
from tests.support.infra import create_database, drop_database
from tests.support.system import (
    PrivatePostgres,
    PrivateRabbitMq,
    System,
    require_private_servers,
)


@pytest.fixture
def start_system(database_url: str, amqp_url: str) -> Iterator[Callable[..., System]]:
    """`start_system(**options)` runs the whole pipeline; every one started is stopped after."""
    started: list[System] = []

    def start(**options: Any) -> System:
        options.setdefault("database_url", database_url)
        options.setdefault("amqp_url", amqp_url)
        system = System(**options)
        started.append(system)
        return system.start()

    yield start
    for system in started:
        system.stop()


@pytest.fixture
def private_rabbitmq() -> Iterator[PrivateRabbitMq]:
    require_private_servers()
    node = PrivateRabbitMq()
    try:
        yield node.start()
    finally:
        node.stop()


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A private Postgres cluster with a migrated database; yields the cluster (its database
    URL is `private_postgres.database_url`)."""
    require_private_servers()
    cluster = PrivatePostgres().start()
    try:
        url = create_database(cluster.server_url)
        migrate_all(url)
        cluster.database_url = url
        yield cluster
        drop_database(url)
    finally:
        cluster.destroy()
