"""Forged broker messages: with one shared broker user, anyone holding a consumer's
credentials could publish a `notification.*` event or a `realtime.push` (even to every socket)
on the events exchange. With the users `messaging.broker_users` generates, applied to a RabbitMQ
node of this test's own with the same `rabbitmqctl` commands an operator runs, the broker itself
refuses (ACCESS_REFUSED) what a service may not publish, and each service can still declare,
bind and publish what it needs."""

from __future__ import annotations

import os
import secrets
import subprocess
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import aio_pika
import aiormq
import pytest
from aio_pika.abc import AbstractRobustConnection

from contracts.realtime import REALTIME_PUSH
from contracts.topology import Topology, binding_for_user, routing_key
from messaging.broker_users import service_users
from messaging.topology import declare_all, declare_consumer, declare_events_exchange
from services.email.consumer import consumer_spec as email_spec
from tests.support.infra import free_port
from tests.support.system import RABBITMQ_BIN, PrivateRabbitMq, require_private_servers
from tocsin_cli.broker_users import apply_over_http, users_script
from tocsin_cli.errors import CliError
from tocsin_cli.settings import CliSettings


@pytest.fixture(scope="module")
def node() -> Iterator[PrivateRabbitMq]:
    require_private_servers()
    rabbit = PrivateRabbitMq().start()
    try:
        yield rabbit
    finally:
        rabbit.stop()


@pytest.fixture(scope="module")
def topology() -> Topology:
    return Topology(f"t{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="module")
def passwords(node: PrivateRabbitMq, topology: Topology) -> dict[str, str]:
    """Runs the script `tocsin topology users` prints, as an operator would, against this
    node (a `rabbitmqctl` on PATH that names the node), with every password in its variable."""
    users = service_users(topology)
    # A leading `-` on every password: `rabbitmqctl` must not read one as an option.
    chosen = {user.name: f"-{secrets.token_urlsafe(18)}" for user in users}
    shim = node.dir / "bin" / "rabbitmqctl"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nexec {RABBITMQ_BIN}/rabbitmqctl -n {node.node} "$@"\n')
    shim.chmod(0o755)
    script = users_script(CliSettings(tocsin_namespace=topology.namespace))
    env = {
        **node._env(),
        "PATH": f"{shim.parent}:{os.environ['PATH']}",
        **{user.password_variable: chosen[user.name] for user in users},
    }
    for _ in range(2):  # the script can be run again
        run = subprocess.run(["sh", "-c", script], env=env, capture_output=True, timeout=300)
        assert run.returncode == 0, run.stderr.decode(errors="replace")
    return chosen


def url_of(node: PrivateRabbitMq, user: str, password: str) -> str:
    return f"amqp://{user}:{password}@127.0.0.1:{node.port}/"


Connect = Callable[[str], Awaitable[AbstractRobustConnection]]


@pytest.fixture
async def connect(node: PrivateRabbitMq, passwords: dict[str, str]) -> AsyncIterator[Connect]:
    opened: list[AbstractRobustConnection] = []

    async def as_user(user: str) -> AbstractRobustConnection:
        connection = await aio_pika.connect_robust(url_of(node, user, passwords[user]))
        opened.append(connection)
        return connection

    yield as_user
    for connection in opened:
        await connection.close()


async def publish(connection: AbstractRobustConnection, exchange: str, key: str) -> None:
    """Publish with confirms; raises what the broker answered."""
    channel = await connection.channel(publisher_confirms=True)
    target = await channel.get_exchange(exchange, ensure=False)
    await target.publish(aio_pika.Message(b"{}", content_type="application/json"), key)
    await channel.close()


async def test_a_consumers_credentials_cannot_publish_events_but_the_notification_service_can(
    connect: Connect, topology: Topology
) -> None:
    admin = await connect("tocsin-admin")
    await declare_all(await admin.channel(), topology, [email_spec(topology)])
    event = routing_key("notification.created", "victim")
    push_all = routing_key(REALTIME_PUSH, "*")

    email = await connect("tocsin-email")
    for key in (event, push_all, routing_key("notification.broadcast", "*")):
        with pytest.raises(aiormq.exceptions.ChannelAccessRefused) as refused:
            await publish(email, topology.events_exchange, key)
        assert "ACCESS_REFUSED" in str(refused.value), key
    await publish(email, topology.events_exchange, routing_key("delivery.succeeded", "victim"))

    realtime = await connect("tocsin-realtime")
    with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
        await publish(realtime, topology.events_exchange, push_all)

    notification = await connect("tocsin-notification")
    await publish(notification, topology.events_exchange, event)
    await publish(notification, topology.events_exchange, push_all)


async def test_each_service_can_still_declare_and_bind_what_it_uses(
    connect: Connect, topology: Topology
) -> None:
    email = await connect("tocsin-email")
    channel = await email.channel()
    await declare_events_exchange(channel, topology)
    queue = await declare_consumer(channel, topology, email_spec(topology))
    assert queue.name == topology.queue("email")
    with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
        other = await email.channel()
        await other.declare_queue(topology.queue("webhook"), durable=True)

    realtime = await connect("tocsin-realtime")
    channel = await realtime.channel()
    await declare_events_exchange(channel, topology)
    mine = await channel.declare_queue(
        topology.realtime_queue("r1"), exclusive=True, auto_delete=True, durable=False
    )
    await mine.bind(topology.events_exchange, binding_for_user("alice"))


async def test_guest_is_gone(node: PrivateRabbitMq, passwords: dict[str, str]) -> None:
    with pytest.raises(aiormq.exceptions.ProbableAuthenticationError):
        await aio_pika.connect(url_of(node, "guest", "guest"), timeout=10)


@pytest.fixture
def managed_node() -> Iterator[tuple[PrivateRabbitMq, int]]:
    """A node with the management plugin, and its API's port (loopback)."""
    rabbit = PrivateRabbitMq()
    port = free_port()
    (rabbit.dir / "enabled_plugins").write_text("[rabbitmq_management].\n")
    (rabbit.dir / "rabbitmq.conf").write_text(
        f"management.tcp.port = {port}\nmanagement.tcp.ip = 127.0.0.1\n"
    )
    try:
        yield rabbit.start(), port
    finally:
        rabbit.stop()


async def test_applying_over_the_management_api_gives_the_same_refusals(
    managed_node: tuple[PrivateRabbitMq, int],
) -> None:
    node, port = managed_node
    topology = Topology(f"t{uuid.uuid4().hex[:8]}")
    users = service_users(topology)
    env = {user.password_variable: secrets.token_urlsafe(18) for user in users}
    settings = CliSettings(tocsin_namespace=topology.namespace, amqp_url=node.url)
    management = f"http://127.0.0.1:{port}"
    with pytest.raises(CliError, match="TOCSIN_AMQP_PASSWORD_EMAIL"):
        apply_over_http(settings, management, env={})
    applied = apply_over_http(settings, management, env=env)
    assert sorted(applied) == sorted(user.name for user in users)

    def url(user: str) -> str:
        password = env[f"TOCSIN_AMQP_PASSWORD_{user.removeprefix('tocsin-').upper()}"]
        return url_of(node, user, password)

    admin = await aio_pika.connect(url("tocsin-admin"), timeout=10)
    email = await aio_pika.connect(url("tocsin-email"), timeout=10)
    try:
        await declare_events_exchange(await admin.channel(), topology)
        with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
            await publish(email, topology.events_exchange, routing_key(REALTIME_PUSH, "*"))
    finally:
        await email.close()
        await admin.close()
    with pytest.raises(aiormq.exceptions.ProbableAuthenticationError):
        await aio_pika.connect(url_of(node, "guest", "guest"), timeout=10)
