"""Tokens, topology, and the errors an operator sees when something is missing."""

from __future__ import annotations

import asyncio
import uuid

import aio_pika
import asyncpg
import pytest

from contracts.topology import Topology
from identity import JwtSettings, verify_token
from identity.tokens import WRITE_SCOPE
from tests.support.cli import Cli
from tests.support.infra import drop_database, free_port, with_database


async def test_token_is_accepted_by_the_services_verifier(cli: Cli) -> None:
    result = await cli("token", "--user", "alice", "--scope", WRITE_SCOPE, "--ttl", "120")
    assert result.exit_code == 0, result.stderr
    claims = verify_token(result.stdout.strip(), JwtSettings(secret=cli.env["JWT_SECRET"]))
    assert claims.user_id == "alice"
    assert claims.has_scope(WRITE_SCOPE)
    assert claims.expires_at is not None


async def test_token_longer_than_the_services_accept_is_refused(cli: Cli) -> None:
    result = await cli("token", "--user", "alice", "--ttl", str(2 * 86400))
    assert result.exit_code == 2
    assert "JWT_MAX_LIFETIME_S" in result.stderr and "Traceback" not in result.stderr
    longer = await cli(
        "token", "--user", "alice", "--ttl", str(2 * 86400), env={"JWT_MAX_LIFETIME_S": "0"}
    )
    assert longer.exit_code == 0, longer.stderr


async def test_token_without_a_secret_says_what_to_set(cli: Cli) -> None:
    result = await cli("token", "--user", "alice", env={"JWT_SECRET": ""})
    assert result.exit_code == 2
    assert "JWT_SECRET" in result.stderr and "Traceback" not in result.stderr


async def test_every_command_has_help_with_an_example(cli: Cli) -> None:
    for command in (
        ["token"], ["send"], ["announce"], ["migrate"], ["replay"], ["status"],
        ["dlq", "list"], ["dlq", "show"], ["dlq", "requeue"], ["dlq", "purge"],
        ["events", "tail"], ["topology", "declare"],
    ):  # fmt: skip
        result = await cli(*command, "--help")
        assert result.exit_code == 0, (command, result.stderr)
        assert "Example: tocsin" in result.stdout, command


async def test_topology_declare_is_idempotent_and_creates_queues_retry_and_dlq(
    cli: Cli,
    declared: Topology,
    amqp_connection: aio_pika.abc.AbstractRobustConnection,
) -> None:
    again = await cli("topology", "declare")
    assert again.exit_code == 0, again.stderr
    channel = await amqp_connection.channel()
    for name in (declared.queue("email"), declared.dead_letter_queue("email")):
        await channel.declare_queue(name, passive=True)
    await channel.declare_exchange(declared.events_exchange, passive=True)
    await channel.declare_exchange(declared.incidents_exchange, passive=True)


@pytest.mark.parametrize(
    "args",
    [
        ["dlq", "list", "--consumer", "no-such-consumer"],
        ["replay", "--consumer", "no-such-consumer", "--since", "1h"],
    ],
)
async def test_unknown_consumer_is_one_line_and_exit_2(cli: Cli, args: list[str]) -> None:
    result = await cli(*args)
    assert result.exit_code == 2
    assert "unknown consumer 'no-such-consumer'" in result.stderr
    assert "email" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


async def test_unreachable_broker_and_database_are_one_line_and_exit_2(cli: Cli) -> None:
    port = free_port()
    broker = await cli(
        "dlq", "list", "--consumer", "email", env={"AMQP_URL": f"amqp://u:secret@127.0.0.1:{port}/"}
    )
    assert broker.exit_code == 2
    assert "cannot reach RabbitMQ" in broker.stderr and "AMQP_URL" in broker.stderr
    assert "secret" not in broker.stderr
    assert len(broker.stderr.strip().splitlines()) == 1
    database = await cli(
        "replay",
        "--consumer",
        "email",
        "--since",
        "1h",
        env={"DATABASE_URL": f"postgresql://postgres@127.0.0.1:{port}/tocsin"},
    )
    assert database.exit_code == 2
    assert "cannot reach Postgres" in database.stderr
    assert len(database.stderr.strip().splitlines()) == 1


async def test_missing_queue_tells_the_operator_to_declare_the_topology(cli: Cli) -> None:
    result = await cli("dlq", "list", "--consumer", "email")
    assert result.exit_code == 2
    assert "tocsin topology declare" in result.stderr


async def test_migrate_creates_the_database_and_is_idempotent(
    cli: Cli, postgres_server_url: str
) -> None:
    name = f"tocsin_cli_migrate_{uuid.uuid4().hex[:8]}"
    url = with_database(postgres_server_url, name)
    try:
        first = await cli("migrate", "--create-database", env={"DATABASE_URL": url})
        assert first.exit_code == 0, first.stderr
        assert "created database" in first.stdout
        assert "migrated notification" in first.stdout
        again = await cli("migrate", "--create-database", env={"DATABASE_URL": url})
        assert again.exit_code == 0, again.stderr
        assert "created database" not in again.stdout
        connection = await asyncpg.connect(url)
        try:
            tables = await connection.fetchval("SELECT to_regclass('notification.events')")
        finally:
            await connection.close()
        assert tables is not None
    finally:
        await asyncio.to_thread(drop_database, url)
