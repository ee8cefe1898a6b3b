"""Hostile-input tests run against real processes configured as in production: RS256 tokens
(public key only on the services), an audience and an issuer, one browser origin, and a webhook
service that refuses private addresses. One system per test module."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from identity import JwtSettings
from tests.support.databases import migrate_all
from tests.support.hostile_system import AUDIENCE, ISSUER, hostile, rsa_pair
from tests.support.infra import create_database, drop_database
from tests.support.system import System


@pytest.fixture(scope="module")
def jwt_keys() -> JwtSettings:
    private, public = rsa_pair()
    return JwtSettings(public_key=public, private_key=private, audience=AUDIENCE, issuer=ISSUER)


@pytest.fixture(scope="module")
def hostile_system(database_url: str, amqp_url: str, jwt_keys: JwtSettings) -> Iterator[System]:
    system = hostile(database_url, amqp_url, jwt_keys)
    try:
        yield system.start()
    finally:
        system.stop()


@pytest.fixture
def start_system_for_ssrf(
    postgres_server_url: str, amqp_url: str
) -> Iterator[Callable[..., System]]:
    """A system whose webhook service allows private networks (to reach the local receiver),
    on a database of its own: webhook services sharing a database share pending deliveries,
    and the module's system (private networks refused) would take this one's."""
    started: list[System] = []
    own_database = create_database(postgres_server_url)
    migrate_all(own_database)

    def start() -> System:
        system = System(own_database, amqp_url, email_enabled=False)
        started.append(system)
        return system.start()

    yield start
    for system in started:
        system.stop()
    drop_database(own_database)
