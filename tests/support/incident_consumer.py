"""What the incident consumer did: its outcomes per message, the notifications it made, its
dead letters, and raw messages to feed it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.topology import Topology
from services.notification.incidents import consumer_spec
from tests.support.waiting import eventually


@dataclass
class Outcomes:
    """What the consumer did with each message, by message id."""

    seen: list[tuple[str, str | None, str | None]] = field(default_factory=list)

    def record(self, outcome: str, message: AbstractIncomingMessage, reason: str | None) -> None:
        self.seen.append((outcome, message.message_id, reason))

    def of(self, message_id: str) -> list[str]:
        return [outcome for outcome, mid, _ in self.seen if mid == message_id]


async def notifications_about(engine: AsyncEngine, incident_id: str) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT user_id, type, priority, title, message, entity_type, entity_id, "
                "entity_url FROM notification.notifications WHERE entity_id = :id "
                "ORDER BY user_id"
            ),
            {"id": incident_id},
        )
        return [dict(row._mapping) for row in rows]


async def wait_for_notifications(
    engine: AsyncEngine, incident_id: str, count: int
) -> list[dict[str, Any]]:
    return await eventually(
        lambda: notifications_about(engine, incident_id),
        lambda rows: len(rows) >= count,
        what=f"{count} notifications about incident {incident_id}",
    )


async def dead_letters(
    connection: AbstractRobustConnection, topology: Topology, count: int
) -> list[AbstractIncomingMessage]:
    """Take `count` messages from the incident consumer's DLQ (waiting for them)."""
    channel = await connection.channel()
    queue = await channel.get_queue(topology.dead_letter_queue(consumer_spec(topology).name))
    taken: list[AbstractIncomingMessage] = []

    async def take() -> int:
        message = await queue.get(no_ack=True, fail=False)
        if message is not None:
            taken.append(message)
        return len(taken)

    await eventually(take, lambda n: n >= count, what=f"{count} dead-lettered messages")  # type: ignore[arg-type]
    await channel.close()
    return taken


def raw_message(body: bytes, **properties: Any) -> aio_pika.Message:
    return aio_pika.Message(body=body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT, **properties)
