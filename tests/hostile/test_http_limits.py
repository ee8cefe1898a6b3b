"""Limits before authentication on every HTTP service of real processes (the notification API,
the webhook API, the realtime service's HTTP side and the email consumer's health port):
oversized headers get 431, oversized bodies 413 (declared or streamed), headers that never end
408, connections past the cap 503, each as JSON with a stable code; the notification service's
memory stays flat under 16 MB of headers and a 64 MB body."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from identity import JwtSettings
from tests.hostile.raw_http import (
    RawResponse,
    close,
    closed_by_server,
    open_connection,
    read_response,
    send_until_answered,
)
from tests.support.hostile_system import hostile
from tests.support.system import System

CONNECTION_CAP = 8
MB = 1024 * 1024


@pytest.fixture(scope="module")
def limited_system(database_url: str, amqp_url: str, jwt_keys: JwtSettings) -> Iterator[System]:
    system = hostile(
        database_url,
        amqp_url,
        jwt_keys,
        email_enabled=True,
        webhook_env={
            "WEBHOOK_ALLOWED_PRIVATE_TARGETS": "",
            "HTTP_MAX_CONNECTIONS": str(CONNECTION_CAP),
        },
    )
    try:
        yield system.start()
    finally:
        system.stop()


def targets(system: System) -> dict[str, tuple[str, str]]:
    """service → (base URL, a POST path that needs a token, where one does)."""
    return {
        "notification": (system.api_url, "/api/v1/notifications"),
        "webhook": (system.webhook_url, "/api/v1/webhooks/endpoints"),
        "realtime": (system.realtime_url(), "/healthz"),
        "email": (f"http://127.0.0.1:{system.ports['email']}", "/healthz"),
    }


def request_head(path: str, *headers: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", *headers, "", ""]
    return "\r\n".join(lines).encode()


def huge_headers(path: str, total: int = 16 * MB, line: int = 8 * 1024) -> Iterator[bytes]:
    yield request_head(path).removesuffix(b"\r\n")
    for i in range(total // line):
        yield f"X-Pad-{i}: ".encode() + b"a" * line + b"\r\n"
    yield b"\r\n"


def declared_body(path: str, size: int = 64 * MB) -> Iterator[bytes]:
    yield request_head(path, f"Content-Length: {size}", "Content-Type: application/json")
    chunk = b" " * (256 * 1024)
    for _ in range(size // len(chunk)):
        yield chunk


def chunked_body(path: str, size: int = 8 * MB) -> Iterator[bytes]:
    yield request_head(path, "Transfer-Encoding: chunked", "Content-Type: application/json")
    piece = b" " * (16 * 1024)
    for _ in range(size // len(piece)):
        yield b"%x\r\n%s\r\n" % (len(piece), piece)
    yield b"0\r\n\r\n"


def probe(base_url: str, chunks: Iterator[bytes]) -> RawResponse | None:
    sock = open_connection(base_url)
    try:
        send_until_answered(sock, chunks)
        return read_response(sock)
    finally:
        close(sock)


def assert_json_error(response: RawResponse | None, status: int, code: str, what: str) -> None:
    assert response is not None, (what, "no response")
    assert response.status == status, (what, response.status, response.body[:200])
    assert response.headers.get("content-type", "").startswith("application/json"), what
    assert response.json()["error"]["code"] == code, (what, response.body)


def assert_still_serving(system: System) -> None:
    for name, (base, _) in targets(system).items():
        assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200, name


def rss_mb(system: System, name: str) -> float:
    with open(f"/proc/{system.processes[name].pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_oversized_headers_get_431_json_on_every_service(limited_system: System) -> None:
    for name, (base, path) in targets(limited_system).items():
        response = probe(base, huge_headers(path))
        assert_json_error(response, 431, "headers_too_large", name)
        assert response is not None and response.headers.get("connection") == "close", name
    assert_still_serving(limited_system)


def test_a_declared_oversized_body_gets_413_json_before_authentication(
    limited_system: System,
) -> None:
    for name, (base, path) in targets(limited_system).items():
        sock = open_connection(base)
        try:  # only the headers: the answer must not wait for the body
            sock.sendall(next(declared_body(path)))
            assert_json_error(read_response(sock), 413, "payload_too_large", name)
        finally:
            close(sock)
    assert_still_serving(limited_system)


def test_a_streamed_oversized_body_gets_413_json_before_authentication(
    limited_system: System,
) -> None:
    for name, (base, path) in targets(limited_system).items():
        if path == "/healthz":
            continue  # the health routes read no body
        assert_json_error(probe(base, chunked_body(path)), 413, "payload_too_large", name)
    assert_still_serving(limited_system)


def test_headers_that_never_end_get_408_json_and_the_connection_closes(
    limited_system: System,
) -> None:
    sockets = {}
    for name, (base, _) in targets(limited_system).items():
        sockets[name] = open_connection(base, timeout=30)
        sockets[name].sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    idle = open_connection(limited_system.api_url, timeout=30)  # not a byte sent
    try:
        for name, sock in sockets.items():
            assert_json_error(read_response(sock, 30), 408, "request_timeout", name)
            assert closed_by_server(sock, 5), name
        assert closed_by_server(idle, 30), "an idle connection is closed too"
    finally:
        for sock in [*sockets.values(), idle]:
            close(sock)
    assert_still_serving(limited_system)


def test_requests_beyond_the_connection_cap_get_503_json(limited_system: System) -> None:
    held = [open_connection(limited_system.webhook_url) for _ in range(CONNECTION_CAP)]
    try:
        sock = open_connection(limited_system.webhook_url)
        try:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert_json_error(read_response(sock), 503, "too_many_connections", "webhook")
        finally:
            close(sock)
    finally:
        for sock in held:
            close(sock)
    response = httpx.get(f"{limited_system.webhook_url}/healthz", timeout=10)
    assert response.status_code == 200, "served again once the connections are gone"


def test_memory_stays_flat_under_oversized_headers_and_bodies(limited_system: System) -> None:
    base, path = targets(limited_system)["notification"]
    for chunks in (huge_headers(path, total=MB), declared_body(path, size=MB)):  # warm-up
        probe(base, chunks)
    before = rss_mb(limited_system, "notification")
    for _ in range(2):
        probe(base, huge_headers(path))
        probe(base, declared_body(path))
        probe(base, chunked_body(path))
    growth = rss_mb(limited_system, "notification") - before
    assert growth < 16, f"RSS grew by {growth:.0f} MB under 16 MB headers and 64 MB bodies"
    assert_still_serving(limited_system)
