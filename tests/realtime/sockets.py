"""A browser tab as the tests see it: a real WebSocket client that collects server messages."""

from __future__ import annotations

import asyncio
import json
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
        self._reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def open(cls, url: str, **kwargs: Any) -> Tab:
        return cls(await connect(url, open_timeout=10, **kwargs))

    async def _read(self) -> None:
        try:
            async for raw in self.connection:
                self.messages.append(json.loads(raw))
        except ConnectionClosed:
            pass
        finally:
            await self.connection.wait_closed()
            received = self.connection.protocol.close_rcvd
            self.close_code = received.code if received else 1006
            self.close_reason = received.reason if received else None

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
