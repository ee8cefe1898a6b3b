"""Publishing with publisher confirms: a publish either is confirmed or raises."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import aio_pika
from aio_pika.abc import AbstractExchange
from pamqp.commands import Basic

from contracts.events import EventEnvelope

logger = logging.getLogger(__name__)

DEFAULT_PUBLISH_TIMEOUT_S = 10.0


class PublishNotConfirmed(Exception):
    """The broker refused (nack) or did not confirm the message within the timeout."""


class Unroutable(Exception):
    """A mandatory message was returned: no queue is bound for its routing key."""


def envelope_message(
    envelope: EventEnvelope, headers: Mapping[str, object] | None = None
) -> aio_pika.Message:
    """A persistent JSON message for an event, with `message_id = event_id`."""
    return aio_pika.Message(
        body=envelope.model_dump_json().encode(),
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=envelope.event_id,
        type=envelope.type.value,
        timestamp=envelope.occurred_at,
        headers={"schema_version": envelope.schema_version, **(headers or {})},  # type: ignore[dict-item]
    )


async def publish_confirmed(
    exchange: AbstractExchange,
    message: aio_pika.abc.AbstractMessage,
    routing_key: str,
    *,
    mandatory: bool = True,
    timeout: float = DEFAULT_PUBLISH_TIMEOUT_S,
) -> None:
    """Publish and wait for the broker's confirm.

    Raises PublishNotConfirmed on a nack or a timeout, Unroutable when a mandatory message
    was returned. The channel must have been opened with publisher confirms.
    """
    try:
        result = await exchange.publish(
            message, routing_key=routing_key, mandatory=mandatory, timeout=timeout
        )
    except TimeoutError as exc:
        raise PublishNotConfirmed(f"no confirm within {timeout}s") from exc
    except aio_pika.exceptions.DeliveryError as exc:
        frame = getattr(exc, "frame", None)
        if isinstance(frame, Basic.Nack):
            raise PublishNotConfirmed("broker nacked the message") from exc
        raise Unroutable(routing_key) from exc
    if result is None or isinstance(result, Basic.Ack):
        return
    if isinstance(result, Basic.Nack):
        raise PublishNotConfirmed("broker nacked the message")
    raise Unroutable(routing_key)
