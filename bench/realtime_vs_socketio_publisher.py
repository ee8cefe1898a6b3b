"""The publisher of `bench.realtime_vs_socketio`: AMQP frames marshalled ahead, written as bytes.

aio-pika / aiormq spend about 100-250 µs of Python per `basic_publish` (a lock, a timeout scope,
a queue to a writer task); at 10,000 messages/s that alone takes a core, and the delivery row
measured the bench's publisher instead of the systems under test. Here every message's three
frames (basic.publish, content header, body) are marshalled before the clock starts and
written to one AMQP connection's socket in batches: RabbitMQ's own flow control (it stops
reading the socket) is the only brake. No confirms, as before: the rows count what reached the
sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import unquote, urlparse

from pamqp import commands, frame, header
from pamqp.body import ContentBody
from pamqp.frame import FrameTypes

CHANNEL = 1


class RawPublisher:
    """One AMQP connection with one channel, publishing pre-marshalled messages."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._buffer = b""
        self._watch: asyncio.Task[None] | None = None
        self.failure: str | None = None

    @classmethod
    async def connect(cls, amqp_url: str) -> RawPublisher:
        url = urlparse(amqp_url)
        reader, writer = await asyncio.open_connection(url.hostname, url.port or 5672)
        publisher = cls(reader, writer)
        await publisher._handshake(
            unquote(url.username or "guest"),
            unquote(url.password or "guest"),
            unquote(url.path[1:]) if len(url.path) > 1 else "/",
        )
        publisher._watch = asyncio.get_running_loop().create_task(publisher._watch_closes())
        return publisher

    async def _handshake(self, user: str, password: str, vhost: str) -> None:
        self._writer.write(header.ProtocolHeader().marshal())
        await self._expect(commands.Connection.Start)
        self._send(commands.Connection.StartOk(response=f"\0{user}\0{password}"), 0)
        tune = await self._expect(commands.Connection.Tune)
        assert isinstance(tune, commands.Connection.Tune)
        self._send(commands.Connection.TuneOk(tune.channel_max, tune.frame_max, 0), 0)
        self._send(commands.Connection.Open(virtual_host=vhost), 0)
        await self._expect(commands.Connection.OpenOk)
        self._send(commands.Channel.Open(), CHANNEL)
        await self._expect(commands.Channel.OpenOk)

    def _send(self, value: FrameTypes, channel: int) -> None:
        self._writer.write(frame.marshal(value, channel))

    async def _read_frame(self) -> FrameTypes:
        while True:
            if len(self._buffer) >= 7:
                size = int.from_bytes(self._buffer[3:7], "big") + 8
                if len(self._buffer) >= size:
                    _, _, value = frame.unmarshal(self._buffer[:size])
                    self._buffer = self._buffer[size:]
                    return value
            chunk = await self._reader.read(65536)
            if not chunk:
                raise ConnectionError("the broker closed the connection")
            self._buffer += chunk

    async def _expect(self, kind: type[FrameTypes]) -> FrameTypes:
        value = await self._read_frame()
        if not isinstance(value, kind):
            raise ConnectionError(f"expected {kind.__name__}, the broker sent {value!r}")
        return value

    async def _watch_closes(self) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                value = await self._read_frame()
                if isinstance(value, commands.Connection.Close | commands.Channel.Close):
                    self.failure = f"{value.reply_code} {value.reply_text}"
                    return

    @staticmethod
    def marshal(exchange: str, routing_key: str, body: bytes) -> bytes:
        """One message's frames, ready for `write`."""
        properties = commands.Basic.Properties(content_type="application/json", delivery_mode=1)
        return (
            frame.marshal(
                commands.Basic.Publish(exchange=exchange, routing_key=routing_key), CHANNEL
            )
            + frame.marshal(header.ContentHeader(0, len(body), properties), CHANNEL)
            + frame.marshal(ContentBody(body), CHANNEL)
        )

    async def write(self, messages: bytes) -> None:
        """Send already marshalled messages; waits while the broker does not read.

        Raises ConnectionError when the broker closed the channel or the connection.
        """
        if self.failure is not None:
            raise ConnectionError(f"the broker closed the publisher: {self.failure}")
        self._writer.write(messages)
        await self._writer.drain()

    async def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
        self._writer.close()
        with contextlib.suppress(ConnectionError):
            await self._writer.wait_closed()
