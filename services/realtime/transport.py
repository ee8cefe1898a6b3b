"""The socket under the ASGI `send`: pre-encoded frames straight to the transport when possible.

A fan-out encodes each message once as a complete WebSocket text frame (server frames are not
masked and compression is off, so the bytes are the same for every socket). When the socket is
served by uvicorn's `websockets-sansio` protocol, is open and its transport is not paused, the
frame is written to the transport directly: no per-socket task, no per-socket encoding. In any
other case (another ASGI server or protocol, a paused transport, a closing socket) the caller
falls back to the ordinary ASGI `send`, which keeps ordering and backpressure.

This leans on uvicorn's protocol attributes (`transport`, `writable`, `close_sent`,
`disconnected`, `conn.state`); `direct_transport` checks they are there and returns None if not.
"""

from __future__ import annotations

import struct
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.protocol import State

Send = Callable[[dict[str, Any]], Awaitable[None]]


def text_frame(text: str) -> bytes:
    """One final, unmasked WebSocket text frame carrying `text`."""
    payload = text.encode()
    length = len(payload)
    if length < 126:
        return bytes((0x81, length)) + payload
    if length < 65536:
        return struct.pack("!BBH", 0x81, 126, length) + payload
    return struct.pack("!BBQ", 0x81, 127, length) + payload


class DirectTransport:
    """The uvicorn protocol object behind one socket's ASGI `send`."""

    __slots__ = ("_protocol",)

    def __init__(self, protocol: Any) -> None:
        self._protocol = protocol

    def writable(self) -> bool:
        """True when a frame written now goes out in order and without blocking."""
        p = self._protocol
        return (
            p.writable.is_set()
            and not p.close_sent
            and not p.disconnected
            and p.conn.state is State.OPEN
        )

    def write(self, frame: bytes) -> None:
        self._protocol.transport.write(frame)

    def force_writable(self) -> None:
        """Let a close frame be queued behind data even while the transport is paused."""
        self._protocol.writable.set()

    def abort(self) -> None:
        transport = self._protocol.transport
        if transport is not None and not transport.is_closing():
            transport.abort()

    def release_handshake(self) -> None:
        """Drop the handshake's request and response (headers): uvicorn only reads them while
        accepting, and they are a good part of an idle socket's memory."""
        p = self._protocol
        if p.handshake_complete:
            p.request = None
            p.response = None

    def is_open(self) -> bool:
        return not self._protocol.disconnected


def direct_transport(send: Send) -> DirectTransport | None:
    protocol = getattr(send, "__self__", None)
    if protocol is None:
        return None
    conn = getattr(protocol, "conn", None)
    if (
        callable(getattr(getattr(protocol, "writable", None), "is_set", None))
        and hasattr(protocol, "transport")
        and hasattr(protocol, "close_sent")
        and hasattr(protocol, "disconnected")
        and hasattr(protocol, "handshake_complete")
        and isinstance(getattr(conn, "state", None), State)
    ):
        return DirectTransport(protocol)
    return None
