"""Looking into a test's own queues: what is waiting in them, taken and acked."""

from __future__ import annotations

from typing import Any

import aio_pika
import orjson
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue


async def drain(queue: AbstractQueue) -> list[AbstractIncomingMessage]:
    """Every message waiting in the queue right now, acked."""
    messages = []
    while (message := await queue.get(no_ack=True, fail=False)) is not None:
        messages.append(message)
    return messages


async def queue_messages(
    connection: aio_pika.abc.AbstractConnection, name: str
) -> list[AbstractIncomingMessage]:
    """Every message in the named queue (which must exist), taken so the caller can inspect them."""
    channel = await connection.channel()
    queue = await channel.declare_queue(name, passive=True)
    taken = await drain(queue)
    await channel.close()
    return taken


async def depth(connection: aio_pika.abc.AbstractConnection, name: str) -> int:
    """How many messages wait in the named queue (which must exist)."""
    channel = await connection.channel()
    queue = await channel.declare_queue(name, passive=True)
    count = int(queue.declaration_result.message_count or 0)
    await channel.close()
    return count


class Collector:
    """Accumulates the decoded bodies (and messages) that arrive on a queue."""

    def __init__(self, queue: AbstractQueue) -> None:
        self.queue = queue
        self.messages: list[AbstractIncomingMessage] = []

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [orjson.loads(m.body) for m in self.messages]

    async def poll(self) -> list[dict[str, Any]]:
        self.messages.extend(await drain(self.queue))
        return self.bodies
