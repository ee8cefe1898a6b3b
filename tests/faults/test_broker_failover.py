"""AMQP_URL as a list of nodes: connections take the first that answers, a robust connection
that loses its node moves to the next one, and no error line shows a password."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import aio_pika
import pytest

from messaging import brokers
from tests.support.infra import free_port
from tests.support.system import PrivateRabbitMq
from tests.support.waiting import eventually


@pytest.fixture(scope="module")
def two_nodes() -> Iterator[tuple[PrivateRabbitMq, PrivateRabbitMq]]:
    first, second = PrivateRabbitMq(), PrivateRabbitMq()
    try:
        first.start()
        second.start()
        yield first, second
    finally:
        first.stop()
        second.stop()


def dead_url(password: str = "s3cret-one") -> str:
    return f"amqp://guest:{password}@127.0.0.1:{free_port()}/"


async def test_connect_takes_the_first_node_that_answers(
    two_nodes: tuple[PrivateRabbitMq, PrivateRabbitMq],
) -> None:
    _, second = two_nodes
    connection = await brokers.connect(f"{dead_url()},{second.url}", timeout=5)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue("", exclusive=True)
        assert queue.name
        assert f":{second.port}" in str(connection)
    finally:
        await connection.close()


async def test_no_node_answering_names_every_address_without_its_password() -> None:
    urls = f"{dead_url('s3cret-one')}, {dead_url('s3cret-two')}"
    with pytest.raises(brokers.BrokerUnreachable) as failure:
        await brokers.connect(urls, timeout=2)
    message = str(failure.value)
    assert "s3cret" not in message
    assert message.count("guest:***@127.0.0.1:") == 2
    with pytest.raises(brokers.BrokerUnreachable) as robust_failure:
        await brokers.connect_robust(urls, timeout=2)
    assert "s3cret" not in str(robust_failure.value)


async def test_a_list_with_a_foreign_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match="not amqp"):
        brokers.broker_urls("amqp://a/,http://guest:pw@b/")
    with pytest.raises(ValueError, match="no broker"):
        brokers.broker_urls(" , ")


async def test_a_robust_connection_moves_to_the_next_node_when_its_node_stops(
    two_nodes: tuple[PrivateRabbitMq, PrivateRabbitMq],
) -> None:
    first, second = two_nodes
    connection = await brokers.connect_robust(f"{first.url},{second.url}", timeout=5)
    reconnected = asyncio.Event()
    connection.reconnect_callbacks.add(lambda *_: reconnected.set())
    try:
        channel = await connection.channel()
        await channel.declare_queue("tocsin-failover-probe", auto_delete=True)
        assert f":{first.port}" in str(connection)
        await asyncio.to_thread(first.stop_app)
        try:
            await asyncio.wait_for(reconnected.wait(), timeout=60)
            assert f":{second.port}" in str(connection)
            # The robust channel re-declared its queue on the second node, and it works there.
            exchange = channel.default_exchange
            await exchange.publish(aio_pika.Message(b"after failover"), "tocsin-failover-probe")
            queue = await channel.get_queue("tocsin-failover-probe")

            async def arrived() -> bool:
                message = await queue.get(fail=False)
                return message is not None and message.body == b"after failover"

            await eventually(arrived, timeout=20, what="a message through the new node")
        finally:
            await asyncio.to_thread(first.start_app)
    finally:
        await connection.close()
