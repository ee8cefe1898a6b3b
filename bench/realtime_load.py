"""The load generator of `bench.realtime_vs_socketio`: a process holding thousands of sockets.

Each socket is a bare asyncio protocol (no WebSocket library): it sends the upgrade request,
parses the server's unmasked frames, answers protocol pings, speaks just enough Engine.IO /
Socket.IO for the baseline, and records for every measured message the time it arrived and,
when the message carries `"t":<ns since epoch>`, its publish→socket latency. The orchestrator
drives workers over a pipe: connect, reset, stats, close.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
import time
from multiprocessing.connection import Connection as Pipe
from typing import Any, cast

TOCSIN = "tocsin"
SOCKETIO = "socketio"

_T_MARK = b'"t":'


class Recorder:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.received = 0
        self.latencies_us: list[int] = []
        self.last_ns = 0

    def measured(self, payload: bytes) -> None:
        now = time.time_ns()
        self.received += 1
        self.last_ns = now
        at = payload.find(_T_MARK)
        if at >= 0:
            end = at + 4
            if end < len(payload) and payload[end] == 32:  # "t": 123 (stdlib json)
                end += 1
            start = end
            while end < len(payload) and 48 <= payload[end] <= 57:
                end += 1
            if end > start:
                self.latencies_us.append((now - int(payload[start:end])) // 1000)


class Socket(asyncio.Protocol):
    """One client socket. `ready` resolves once the server said the session is open."""

    __slots__ = ("auth", "buffer", "kind", "ready", "recorder", "request", "transport", "upgraded")

    def __init__(
        self,
        kind: str,
        request: bytes,
        recorder: Recorder,
        ready: asyncio.Future[bool],
        auth: bytes = b"{}",
    ) -> None:
        self.kind = kind
        self.auth = auth
        self.request = request
        self.recorder = recorder
        self.ready = ready
        self.buffer = b""
        self.upgraded = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_result(False)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data if self.buffer else data
        if not self.upgraded:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                self.buffer = buffer
                return
            if not buffer.startswith(b"HTTP/1.1 101"):
                self._fail()
                return
            self.upgraded = True
            buffer = buffer[end + 4 :]
        offset, size = 0, len(buffer)
        while size - offset >= 2:
            first, second = buffer[offset], buffer[offset + 1] & 0x7F
            head = 2
            if second == 126:
                if size - offset < 4:
                    break
                second = struct.unpack_from("!H", buffer, offset + 2)[0]
                head = 4
            elif second == 127:
                if size - offset < 10:
                    break
                second = struct.unpack_from("!Q", buffer, offset + 2)[0]
                head = 10
            if size - offset < head + second:
                break
            payload = buffer[offset + head : offset + head + second]
            offset += head + second
            self._frame(first & 0x0F, payload)
        self.buffer = buffer[offset:]

    def _frame(self, opcode: int, payload: bytes) -> None:
        if opcode == 0x1:
            self._text(payload)
        elif opcode == 0x9:
            self.send(payload, opcode=0xA)
        elif opcode == 0x8:
            if not self.ready.done():
                self.ready.set_result(False)
            if self.transport is not None:
                self.transport.close()

    def _text(self, payload: bytes) -> None:
        if self.kind == TOCSIN:
            if not self.ready.done():
                self.ready.set_result(payload.startswith(b'{"event":"connection:established"'))
                return
            self.recorder.measured(payload)
            return
        # Engine.IO / Socket.IO: 0 open, 2 ping, 40 namespace connected, 42 event, 44 error.
        if payload[:2] == b"42":
            self.recorder.measured(payload)
        elif payload == b"2":
            self.send(b"3")
        elif payload[:1] == b"0":
            self.send(b"40" + self.auth)
        elif payload[:2] == b"40" and not self.ready.done():
            self.ready.set_result(True)
        elif payload[:2] == b"44" and not self.ready.done():
            self.ready.set_result(False)

    def send(self, payload: bytes, opcode: int = 0x1) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        length = len(payload)
        if length < 126:
            header = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
        elif length < 65536:
            header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
        self.transport.write(header + b"\x00\x00\x00\x00" + payload)  # zero mask key

    def _fail(self) -> None:
        if not self.ready.done():
            self.ready.set_result(False)
        if self.transport is not None:
            self.transport.close()


def _request(path: str, port: int) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


class Worker:
    def __init__(self, kind: str, port: int) -> None:
        self.kind = kind
        self.port = port
        self.recorder = Recorder()
        self.sockets: list[Socket] = []

    async def connect(
        self, tokens: list[str], concurrency: int, timeout_s: float
    ) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        limit = asyncio.Semaphore(concurrency)
        ok = failed = 0
        deadline = time.monotonic() + timeout_s

        async def one(token: str) -> None:
            nonlocal ok, failed
            async with limit:
                ready: asyncio.Future[bool] = loop.create_future()
                if self.kind == TOCSIN:
                    path = f"/api/v1/ws/notifications?token={token}"
                else:
                    path = "/socket.io/?EIO=4&transport=websocket"
                auth = b'{"token":"' + token.encode() + b'"}'
                request = _request(path, self.port)
                protocol = Socket(self.kind, request, self.recorder, ready, auth)
                try:
                    await loop.create_connection(lambda: protocol, "127.0.0.1", self.port)
                    good = await asyncio.wait_for(ready, max(0.1, deadline - time.monotonic()))
                except (OSError, TimeoutError):
                    good = False
                if good:
                    ok += 1
                    self.sockets.append(protocol)
                else:
                    failed += 1
                    if protocol.transport is not None:
                        protocol.transport.close()

        began = time.perf_counter()
        await asyncio.gather(*(one(t) for t in tokens))
        return {"ok": ok, "failed": failed, "seconds": time.perf_counter() - began}

    def stats(self, with_latencies: bool) -> dict[str, Any]:
        r = self.recorder
        return {
            "received": r.received,
            "last_ns": r.last_ns,
            "latencies_us": r.latencies_us if with_latencies else [],
            "open": sum(1 for s in self.sockets if s.transport and not s.transport.is_closing()),
        }

    def close(self) -> None:
        for s in self.sockets:
            if s.transport is not None:
                s.transport.abort()
        self.sockets.clear()


def worker_main(pipe: Pipe, kind: str, port: int) -> None:
    """Entry of a worker process: obey commands from `pipe` until `close`."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_serve(pipe, Worker(kind, port)))


async def _serve(pipe: Pipe, worker: Worker) -> None:
    while True:
        command = await asyncio.to_thread(pipe.recv)
        name = command[0]
        if name == "connect":
            pipe.send(await worker.connect(command[1], command[2], command[3]))
        elif name == "reset":
            worker.recorder.reset()
            pipe.send(True)
        elif name == "stats":
            pipe.send(worker.stats(command[1]))
        elif name == "drop":  # abort every socket, keep the worker
            worker.close()
            pipe.send(True)
        elif name == "close":
            worker.close()
            pipe.send(True)
            return
