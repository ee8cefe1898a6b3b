"""The gateway's one nginx template, run by Debian's nginx: `nginx -t` accepts it rendered as
the compose file and as the local run render it; a real nginx routes requests and WebSocket
upgrades to stand-in upstreams, answers its own refusals as JSON, and keeps tokens out of its
access log."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn
import websockets
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from tests.infra.compose import gateway_config, load_compose
from tests.support.gateway import UPSTREAMS, Gateway, nginx_binary, render_local
from tests.support.infra import free_port
from tests.support.waiting import eventually
from tocsin_cli.gateway import TEMPLATE, MissingGatewayValue, placeholders, render

STAND_INS = ("notification", "realtime-1", "realtime-2", "webhook", "push", "demo")


def nginx_test(directory: Path, conf: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [nginx_binary(), "-t", "-p", str(directory), "-c", str(conf), "-e", "stderr"],
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_nginx_accepts_the_template_as_the_local_run_renders_it(tmp_path: Path) -> None:
    conf = render_local(tmp_path, free_port(), {n: [f"127.0.0.1:{free_port()}"] for n in UPSTREAMS})
    result = nginx_test(tmp_path, conf)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_nginx_accepts_the_template_as_the_compose_gateway_renders_it(tmp_path: Path) -> None:
    # Compose host names do not resolve here: give each a local address, as Docker DNS would.
    conf = gateway_config(load_compose()).replace("listen 80;", f"listen 127.0.0.1:{free_port()};")
    conf = conf.replace("/tmp/", f"{tmp_path}/")
    for host in ("notification", "realtime-1", "realtime-2", "webhook", "push", "demo"):
        conf = conf.replace(f"server {host}:", "server 127.0.0.1:")
    path = tmp_path / "nginx.conf"
    path.write_text(conf)
    result = nginx_test(tmp_path, path)
    assert result.returncode == 0, result.stderr


def stand_in(name: str) -> Starlette:
    async def http(request: Request) -> JSONResponse:
        body = await request.body()
        return JSONResponse(
            {
                "upstream": name,
                "path": request.url.path,
                "host": request.headers.get("host"),
                "traceparent": request.headers.get("traceparent"),
                "forwarded_for": request.headers.get("x-forwarded-for"),
                "body_bytes": len(body),
            }
        )

    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(json.dumps({"upstream": name, "path": websocket.url.path}))
        await websocket.close()

    return Starlette(
        routes=[
            WebSocketRoute("/api/v1/ws/notifications", ws),
            Route("/{path:path}", http, methods=["GET", "POST"]),
        ]
    )


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    ports = {name: free_port() for name in STAND_INS}
    servers = [
        uvicorn.Server(uvicorn.Config(stand_in(n), host="127.0.0.1", port=p, log_level="error"))
        for n, p in ports.items()
    ]
    tasks = [asyncio.create_task(s.serve()) for s in servers]
    await eventually(lambda: all(s.started for s in servers), what="stand-in upstreams started")
    upstreams = {
        "notification": [f"127.0.0.1:{ports['notification']}"],
        "realtime": [f"127.0.0.1:{ports['realtime-1']}", f"127.0.0.1:{ports['realtime-2']}"],
        "webhook": [f"127.0.0.1:{ports['webhook']}"],
        "push": [f"127.0.0.1:{ports['push']}"],
        "demo": [f"127.0.0.1:{ports['demo']}"],
    }
    running = Gateway(tmp_path, upstreams)
    await asyncio.to_thread(running.start)
    try:
        yield running
    finally:
        await asyncio.to_thread(running.stop)
        for server in servers:
            server.should_exit = True
        await asyncio.gather(*tasks)


async def test_gateway_routes_each_path_to_its_service_and_passes_traceparent(
    gateway: Gateway,
) -> None:
    trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    async with httpx.AsyncClient(base_url=gateway.origin) as client:
        seen = {}
        for path in (
            "/api/v1/notifications",
            "/api/v1/webhooks/endpoints",
            "/api/v1/push/vapid-public-key",
            "/api/v1/presence?user_ids=a,b",
            "/api/v1/presence/users",
            "/api/v1/channels/incident:1/presence",
            "/docs",
            "/",
            "/assets/app.js",
        ):
            response = await client.get(path, headers={"traceparent": trace})
            assert response.status_code == 200, path
            seen[path] = response.json()
    assert seen["/api/v1/notifications"]["upstream"] == "notification"
    assert seen["/api/v1/notifications"]["traceparent"] == trace
    assert seen["/api/v1/notifications"]["forwarded_for"] == "127.0.0.1"
    assert seen["/api/v1/notifications"]["host"] == f"127.0.0.1:{gateway.port}"
    assert seen["/api/v1/webhooks/endpoints"]["upstream"] == "webhook"
    assert seen["/api/v1/push/vapid-public-key"]["upstream"] == "push"
    for path in (
        "/api/v1/presence?user_ids=a,b",
        "/api/v1/presence/users",
        "/api/v1/channels/incident:1/presence",
    ):
        assert seen[path]["upstream"].startswith("realtime-"), path
    assert seen["/docs"]["upstream"] == "notification"
    assert seen["/"]["upstream"] == "demo"
    assert seen["/assets/app.js"]["upstream"] == "demo"


async def test_gateway_upgrades_websockets_and_spreads_them_over_realtime_instances(
    gateway: Gateway,
) -> None:
    upstreams = set()
    for _ in range(4):
        async with websockets.connect(
            f"{gateway.ws_origin}/api/v1/ws/notifications?token=x", open_timeout=10
        ) as socket:
            hello = json.loads(await asyncio.wait_for(socket.recv(), 10))
            assert hello["path"] == "/api/v1/ws/notifications"
            upstreams.add(hello["upstream"])
    assert upstreams == {"realtime-1", "realtime-2"}


async def test_access_log_redacts_query_tokens(gateway: Gateway) -> None:
    secret = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXBheWxvYWQ.c2lnbmF0dXJlLXZhbHVl"
    async with websockets.connect(
        f"{gateway.ws_origin}/api/v1/ws/notifications?since=4&token={secret}", open_timeout=10
    ) as socket:
        await asyncio.wait_for(socket.recv(), 10)
    async with httpx.AsyncClient(base_url=gateway.origin) as client:
        await client.get(f"/api/v1/notifications?token={secret}&limit=2")
        await client.get(f"/api/v1/notifications?access=1&token={secret}")

    def logged() -> list[str]:
        return [line for line in gateway.log_text().splitlines() if "/api/v1/" in line]

    await eventually(lambda: len(logged()) >= 3, what="three requests in the access log")
    assert secret not in gateway.log_text()
    lines = logged()
    assert any("/api/v1/ws/notifications?since=4&token=REDACTED " in line for line in lines)
    assert any("/api/v1/notifications?token=REDACTED&limit=2 " in line for line in lines)
    assert any("?access=1&token=REDACTED " in line for line in lines)


async def test_gateway_answers_oversized_requests_with_json_before_any_service(
    gateway: Gateway,
) -> None:
    async with httpx.AsyncClient(base_url=gateway.origin, timeout=30) as client:
        body = await client.post("/api/v1/notifications", content=b"x" * (2 * 1024 * 1024))
        header = await client.get("/api/v1/notifications", headers={"x-big": "a" * 20_000})
        uri = await client.get("/api/v1/notifications?q=" + "a" * 20_000)
        fits = await client.post("/api/v1/notifications", content=b"x" * 900_000)
    assert (body.status_code, body.json()["error"]["code"]) == (413, "payload_too_large")
    assert (header.status_code, header.json()["error"]["code"]) == (431, "headers_too_large")
    assert (uri.status_code, uri.json()["error"]["code"]) == (414, "uri_too_long")
    assert body.headers["content-type"].startswith("application/json")
    assert fits.status_code == 200 and fits.json()["body_bytes"] == 900_000


def test_a_client_that_never_finishes_its_headers_is_disconnected(tmp_path: Path) -> None:
    """Half-open requests do not hold the gateway: after client_header_timeout (10 s in the
    template, 1 s here to keep the test short) nginx closes the connection; it sends no 408
    body to a client that never finished its request."""
    gateway = Gateway(tmp_path, {name: [f"127.0.0.1:{free_port()}"] for name in UPSTREAMS})
    conf = tmp_path / "nginx.conf"
    assert "client_header_timeout 10s;" in conf.read_text()
    conf.write_text(
        conf.read_text().replace("client_header_timeout 10s;", "client_header_timeout 1s;")
    )
    gateway.start()
    try:
        with socket.create_connection(("127.0.0.1", gateway.port), timeout=15) as half_open:
            half_open.sendall(b"GET /api/v1/notifications HTTP/1.1\r\nHost: tocsin\r\n")
            assert half_open.recv(4096) == b""  # closed by the gateway, well before 15 s
    finally:
        gateway.stop()


def test_rendering_fills_only_gateway_placeholders_and_refuses_a_missing_one(
    tmp_path: Path,
) -> None:
    template = TEMPLATE.read_text()
    assert placeholders(template) == {
        "GATEWAY_LISTEN",
        "GATEWAY_RUN_DIR",
        *(f"GATEWAY_{name.upper()}_SERVERS" for name in UPSTREAMS),
    }
    conf = render_local(tmp_path, 8000, {n: ["127.0.0.1:1"] for n in UPSTREAMS}).read_text()
    directives = "\n".join(line for line in conf.splitlines() if not line.lstrip().startswith("#"))
    assert "${GATEWAY_" not in directives and "${before}REDACTED${after}" in directives
    assert "$remote_addr" in conf and "listen 127.0.0.1:8000;" in conf
    with pytest.raises(MissingGatewayValue, match="GATEWAY_REALTIME_SERVERS"):
        render(template, {"GATEWAY_LISTEN": "80", "GATEWAY_RUN_DIR": "/tmp"})
