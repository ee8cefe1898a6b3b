"""Declares Tocsin's exchanges and queues on RabbitMQ. Every declaration is idempotent."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue

from contracts.topology import Topology

DEFAULT_RETRY_DELAYS_MS: tuple[int, ...] = (1_000, 5_000, 30_000, 300_000)
DEFAULT_DELIVERY_LIMIT = 20


@dataclass(frozen=True)
class ConsumerSpec:
    """One consumer kind: its queue, what it binds, and how it retries.

    `retry_delays_ms[i]` is the wait before attempt i + 2; after the last one the message is
    dead-lettered. `delivery_limit` is the quorum queue's own guard against a message that
    crashes its consumer over and over (it dead-letters without the consumer's help).
    """

    name: str
    exchange: str
    bindings: Sequence[str]
    retry_delays_ms: Sequence[int] = DEFAULT_RETRY_DELAYS_MS
    delivery_limit: int = DEFAULT_DELIVERY_LIMIT
    prefetch: int = 32
    extra_arguments: dict[str, Any] = field(default_factory=dict)
    retry_jitter: float = 0.0
    """Share (0..1) by which a retry may come back early: each retried message gets a random
    per-message TTL in [delay * (1 - jitter), delay], so messages that failed together do not
    all return together. Per-message TTLs expire at the head of the retry queue, so a retry
    never waits longer than its queue's delay."""


async def declare_exchange(channel: AbstractChannel, name: str) -> AbstractExchange:
    """One of Tocsin's exchanges: every one is a durable topic exchange."""
    return await channel.declare_exchange(name, aio_pika.ExchangeType.TOPIC, durable=True)


async def declare_events_exchange(channel: AbstractChannel, topology: Topology) -> AbstractExchange:
    return await declare_exchange(channel, topology.events_exchange)


async def declare_incidents_exchange(
    channel: AbstractChannel, topology: Topology
) -> AbstractExchange:
    return await declare_exchange(channel, topology.incidents_exchange)


async def declare_consumer(
    channel: AbstractChannel, topology: Topology, spec: ConsumerSpec
) -> AbstractQueue:
    """Declare the consumer's quorum queue, its retry queues and its dead-letter queue, all
    three kinds quorum queues: with a node of a cluster down, every one of them can still be
    declared and keeps its messages (a classic queue homed on that node could not be).

    Retry queues dead-letter back to the consumer's own queue through the default exchange,
    never to the shared exchange, so a retry is seen by this consumer only.
    """
    queue_name = topology.queue(spec.name)
    dlq_name = topology.dead_letter_queue(spec.name)
    quorum: dict[str, Any] = {"x-queue-type": "quorum", **topology.quorum_arguments}
    await channel.declare_queue(dlq_name, durable=True, arguments=quorum)
    queue = await channel.declare_queue(
        queue_name,
        durable=True,
        arguments={
            **quorum,
            "x-delivery-limit": spec.delivery_limit,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": dlq_name,
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
            **spec.extra_arguments,
        },
    )
    for delay in spec.retry_delays_ms:
        await channel.declare_queue(
            topology.retry_queue(spec.name, delay),
            durable=True,
            arguments={
                **quorum,
                "x-message-ttl": delay,
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": queue_name,
                "x-dead-letter-strategy": "at-least-once",
                "x-overflow": "reject-publish",
            },
        )
    for binding in spec.bindings:
        await queue.bind(spec.exchange, binding)
    return queue


def consumer_queue_names(
    topology: Topology, consumer: str, retry_delays_ms: Iterable[int]
) -> list[str]:
    """The queues `declare_consumer` creates for `consumer`: its own, its dead-letter queue and
    one retry queue per distinct delay (what to delete once the consumer is gone)."""
    return [
        topology.queue(consumer),
        topology.dead_letter_queue(consumer),
        *(topology.retry_queue(consumer, delay) for delay in dict.fromkeys(retry_delays_ms)),
    ]


async def declare_all(
    channel: AbstractChannel, topology: Topology, consumers: Iterable[ConsumerSpec]
) -> None:
    await declare_events_exchange(channel, topology)
    await declare_incidents_exchange(channel, topology)
    for spec in consumers:
        await declare_consumer(channel, topology, spec)
