"""`IncidentPublisher`: how another Python service tells Tocsin about an incident.

    async with IncidentPublisher("amqp://guest:guest@localhost:5672/") as publisher:
        await publisher.publish(IncidentCreated(event_id=..., occurred_at=..., incident=...))

Each event goes to the `<namespace>.incidents` topic exchange with routing key = event type,
as persistent JSON with `message_id = event_id`, and `publish` returns only once the broker
confirmed it. It lives here, not in `contracts`, because contracts do no I/O and import no
broker library; producers in other languages use the JSON Schemas and the AsyncAPI document.
"""

from __future__ import annotations

from types import TracebackType

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractRobustConnection

from contracts.incidents import IncidentEvent
from contracts.topology import DEFAULT_NAMESPACE, Topology
from messaging import brokers
from messaging.publisher import DEFAULT_PUBLISH_TIMEOUT_S, publish_confirmed
from messaging.topology import declare_incidents_exchange


def incident_message(event: IncidentEvent) -> aio_pika.Message:
    """The AMQP message for an incident event, exactly as the AsyncAPI document describes it."""
    return aio_pika.Message(
        body=event.model_dump_json().encode(),
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=event.event_id,
        type=event.type.value,
        timestamp=event.occurred_at,
        headers={"schema_version": event.schema_version},
    )


class IncidentPublisher:
    """Publishes incident events with publisher confirms.

    `publish` raises `messaging.publisher.PublishNotConfirmed` when the broker nacks or does
    not confirm within `timeout` seconds, and `Unroutable` when no queue is bound (Tocsin's
    consumer queue has never been declared), so a producer never loses an event silently.
    Connection failures raise aio-pika's connection errors after `timeout`.
    """

    def __init__(
        self,
        amqp_url: str,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        timeout: float = DEFAULT_PUBLISH_TIMEOUT_S,
    ) -> None:
        self.amqp_url = amqp_url
        self.topology = Topology(namespace)
        self.timeout = timeout
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None

    async def connect(self) -> None:
        """Open the connection and a confirming channel, and declare the exchange."""
        if self._exchange is not None:
            return
        self._connection = await brokers.connect_robust(self.amqp_url, timeout=self.timeout)
        self._channel = await self._connection.channel(publisher_confirms=True)
        self._exchange = await declare_incidents_exchange(self._channel, self.topology)

    async def publish(self, event: IncidentEvent) -> None:
        """Publish one event and wait for the broker's confirm (connecting on first use)."""
        await self.connect()
        assert self._exchange is not None
        await publish_confirmed(
            self._exchange, incident_message(event), event.type.value, timeout=self.timeout
        )

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        self._channel = self._exchange = None
        if connection is not None:
            await connection.close()

    async def __aenter__(self) -> IncidentPublisher:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()
