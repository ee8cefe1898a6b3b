"""`tocsin events tail`: a temporary exclusive queue on the events exchange, printed live."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aio_pika

from contracts.events import EventEnvelope, event_from_json
from contracts.topology import binding_for_type, binding_for_user, user_key
from tocsin_cli.connections import broker
from tocsin_cli.errors import CliError
from tocsin_cli.settings import CliSettings


def binding_key(event_type: str | None, user: str | None) -> str:
    """The topic binding for the filters: all events, one type, one user, or both."""
    if event_type and user:
        return f"{event_type}.{user_key(user)}"
    if event_type:
        return binding_for_type(event_type)
    if user:
        return binding_for_user(user)
    return "#"


async def tail(
    settings: CliSettings,
    on_event: Callable[[EventEnvelope, dict[str, object]], None],
    *,
    event_type: str | None = None,
    user: str | None = None,
    count: int | None = None,
    ready: Callable[[], None] | None = None,
) -> int:
    """Print events until interrupted (or `count` events); returns how many were seen."""
    seen = 0
    done = asyncio.Event()
    async with broker(settings) as connection:
        channel = await connection.channel()
        try:
            exchange = await channel.declare_exchange(
                settings.topology.events_exchange, aio_pika.ExchangeType.TOPIC, passive=True
            )
        except aio_pika.exceptions.ChannelClosed as exc:
            raise CliError(
                f"exchange {settings.topology.events_exchange} does not exist: "
                "run `tocsin topology declare`"
            ) from exc
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange, binding_key(event_type, user))

        async def handle(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            nonlocal seen
            async with message.process():
                try:
                    envelope = event_from_json(message.body)
                except ValueError:
                    return
                on_event(envelope, dict(message.headers or {}))
                seen += 1
                if count is not None and seen >= count:
                    done.set()

        await queue.consume(handle)
        if ready is not None:
            ready()
        await done.wait()
    return seen
