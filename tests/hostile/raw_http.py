"""HTTP/1.1 spoken by hand over a socket, for requests no client library sends: 16 MB of headers,
a body that never ends, headers that never finish."""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def open_connection(base_url: str, timeout: float = 10.0) -> socket.socket:
    parts = urlsplit(base_url)
    return socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout)


def send_until_answered(sock: socket.socket, chunks: Iterable[bytes]) -> None:
    """Send `chunks` one by one, stopping as soon as the server answers or hangs up."""
    for chunk in chunks:
        readable, _, _ = select.select([sock], [], [], 0)
        if readable:
            return
        try:
            sock.sendall(chunk)
        except OSError:  # the server closed: its answer (if any) is waiting to be read
            return


def read_response(sock: socket.socket, deadline_s: float = 15.0) -> RawResponse | None:
    """The response the server sent (None if it sent nothing and hung up or stayed silent
    until the deadline)."""
    data = b""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        readable, _, _ = select.select([sock], [], [], max(0.0, deadline - time.monotonic()))
        if not readable:
            break
        try:
            chunk = sock.recv(65536)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
        parsed = _parse(data)
        if parsed is not None:
            return parsed
    return _parse(data)


def closed_by_server(sock: socket.socket, deadline_s: float = 15.0) -> bool:
    """True when the server closed the connection before the deadline."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        readable, _, _ = select.select([sock], [], [], max(0.0, deadline - time.monotonic()))
        if not readable:
            return False
        try:
            if not sock.recv(65536):
                return True
        except OSError:
            return True
    return False


def close(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.close()


def _parse(data: bytes) -> RawResponse | None:
    head, separator, body = data.partition(b"\r\n\r\n")
    if not separator:
        return None
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", len(body)))
    if len(body) < length:
        return None
    return RawResponse(status, headers, body[:length])
