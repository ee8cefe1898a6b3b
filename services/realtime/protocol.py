"""uvicorn's `websockets-sansio` WebSocket protocol, keeping less per open connection.

Same parser, same ASGI messages, same keepalive and closing behaviour; what changes is what an
idle connection holds on to once its handshake is done (measured with tracemalloc, about 18 KB
per socket before):

- the receive queue: `asyncio.Queue` makes three deques and an `asyncio.Event` (with a fourth),
  about 3 KB, to pass the one message at a time uvicorn hands to the app (it pauses reading
  until the app takes it). `Inbox` is a list made on first need and one future while the app
  waits.
- the `writable` flag: `asyncio.Event` makes a deque of waiters for a flag almost never waited
  on. `Flag` makes its list only when someone waits.
- the handshake: the parsed request (headers, and the path with the JWT in it) stays alive in
  the websockets handshake parser's frame for the life of the connection, and uvicorn keeps the
  request, the response and the ASGI scope. Once the handshake is answered, the request is
  emptied and the rest is dropped.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request


class Inbox:
    """`asyncio.Queue`'s `put_nowait`, `get` and `empty`, for a single reader."""

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: list[Any] | None = None
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: Any) -> None:
        if self._items is None:
            self._items = [item]
        else:
            self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def empty(self) -> bool:
        return not self._items

    async def get(self) -> Any:
        """The oldest item, waiting for one if there is none.

        Raises RuntimeError when another `get` is already waiting (uvicorn's app has one reader).
        """
        while not self._items:
            if self._waiter is not None:
                raise RuntimeError("Inbox.get() is already being awaited")
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        item = self._items.pop(0)
        if not self._items:
            self._items = None
        return item


class Flag:
    """`asyncio.Event` (`set`, `clear`, `is_set`, `wait`) whose waiter list exists only while
    someone waits."""

    __slots__ = ("_value", "_waiters")

    def __init__(self) -> None:
        self._value = False
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._value

    def set(self) -> None:
        if self._value:
            return
        self._value = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._value = False

    async def wait(self) -> bool:
        if self._value:
            return True
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            if self._waiters is not None and waiter in self._waiters:
                self._waiters.remove(waiter)
                if not self._waiters:
                    self._waiters = None
        return True


class LeanWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's `websockets-sansio` protocol without the per-connection objects it never uses
    again after the handshake (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = Inbox()  # type: ignore[assignment]
        self.writable = Flag()  # type: ignore[assignment]
        self.writable.set()

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        del self.request
        # The handshake parser keeps the request in its frame while it delegates to the frame
        # parser for the rest of the connection; empty it (nothing reads it after `accept`).
        event.path = ""
        event.headers.clear()

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept" and self.handshake_complete:
            # Both are only read while the handshake is answered.
            del self.response, self.scope
