"""A browser tab as the tests see it: a real WebSocket client that collects server messages."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.support.waiting import eventually


class Tab:
    """One socket; `messages` holds every server message received so far, in order."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.messages: list[dict[str, Any]] = []
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self.arrived = asyncio.Event()
        """Set when a message arrived or the socket closed; a reader clears it."""
        self._reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def open(cls, url: str, **kwargs: Any) -> Tab:
        return cls(await connect(url, open_timeout=10, **kwargs))

    async def _read(self) -> None:
        try:
            async for raw in self.connection:
                self.messages.append(json.loads(raw))
                self.arrived.set()
        except ConnectionClosed:
            pass
        finally:
            await self.connection.wait_closed()
            received = self.connection.protocol.close_rcvd
            self.close_code = received.code if received else 1006
            self.close_reason = received.reason if received else None
            self.arrived.set()

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        return [m for m in self.messages if name is None or m["event"] == name]

    async def wait_for(
        self, what: str, until: Callable[[list[dict[str, Any]]], bool], timeout: float = 15.0
    ) -> list[dict[str, Any]]:
        return await eventually(lambda: list(self.messages), until, timeout=timeout, what=what)

    async def established(self) -> dict[str, Any]:
        messages = await self.wait_for("connection:established", lambda m: len(m) >= 1)
        assert messages[0]["event"] == "connection:established", messages[0]
        data: dict[str, Any] = messages[0]["data"]
        return data

    async def closed(self, timeout: float = 15.0) -> int:
        await asyncio.wait_for(asyncio.shield(self._reader), timeout)
        assert self.close_code is not None
        return self.close_code

    async def send(self, payload: dict[str, Any] | str | bytes) -> None:
        text = json.dumps(payload) if isinstance(payload, dict) else payload
        await self.connection.send(text)

    async def close(self) -> None:
        await self.connection.close()
        await asyncio.wait_for(asyncio.shield(self._reader), 10)


async def stalled_socket(port: int, tok: str) -> socket.socket:
    """A WebSocket handshake over a tiny receive buffer, then never read again."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, ("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET /api/v1/ws/notifications?token={tok} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    )
    await loop.sock_sendall(sock, request.encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += await loop.sock_recv(sock, 1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


async def close_code_after_reading_everything(sock: socket.socket) -> int | None:
    """Read frames until the server's close frame; its code."""
    loop = asyncio.get_running_loop()
    buffer = b""

    async def need(n: int) -> None:
        nonlocal buffer
        while len(buffer) < n:
            chunk = await asyncio.wait_for(loop.sock_recv(sock, 1 << 20), 20)
            if not chunk:
                raise AssertionError("connection ended without a close frame")
            buffer += chunk

    try:
        while True:
            await need(2)
            opcode, length = buffer[0] & 0x0F, buffer[1] & 0x7F
            offset = 2
            if length == 126:
                await need(4)
                length, offset = struct.unpack("!H", buffer[2:4])[0], 4
            elif length == 127:
                await need(10)
                length, offset = struct.unpack("!Q", buffer[2:10])[0], 10
            await need(offset + length)
            payload, buffer = buffer[offset : offset + length], buffer[offset + length :]
            if opcode == 0x8:
                return int(struct.unpack("!H", payload[:2])[0]) if len(payload) >= 2 else None
    finally:
        sock.close()
