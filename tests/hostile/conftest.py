"""Hostile-input tests run against real processes configured as in production: RS256 tokens
(public key only on the services), an audience and an issuer, one browser origin, and a webhook
service that refuses private addresses. One system per test module."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from identity import JwtSettings, mint_token
from services.realtime.catchup import EVENTS_READ_SCOPE
from tests.support.databases import migrate_all
from tests.support.infra import create_database, drop_database
from tests.support.system import System

AUDIENCE = "tocsin"
ISSUER = "https://id.tocsin.test"
APP_ORIGIN = "https://app.tocsin.test"


def rsa_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@pytest.fixture(scope="module")
def jwt_keys() -> JwtSettings:
    private, public = rsa_pair()
    return JwtSettings(public_key=public, private_key=private, audience=AUDIENCE, issuer=ISSUER)


def hostile(database_url: str, amqp_url: str, jwt_keys: JwtSettings, **options: Any) -> System:
    """A system configured as in production (see the module docstring), not started; `options`
    are System fields that replace these."""
    defaults: dict[str, Any] = {
        "jwt": jwt_keys,
        "origins": APP_ORIGIN,
        "email_enabled": False,
        "webhook_env": {"WEBHOOK_ALLOWED_PRIVATE_TARGETS": ""},
        "realtime_env": {
            "MAX_CONNECTIONS_PER_USER": "5",
            # Under RS256 the realtime service cannot mint its own catch-up token.
            "NOTIFICATION_API_TOKEN": mint_token(
                jwt_keys, "realtime", scopes=[EVENTS_READ_SCOPE], ttl_s=3600
            ),
        },
    }
    return System(database_url, amqp_url, **{**defaults, **options})


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
