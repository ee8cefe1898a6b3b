"""The nginx gateway config, checked by Debian's nginx: `nginx -t`, then a real nginx routing
requests and WebSocket upgrades to stand-in upstreams (compose host names mapped to local
ports, since there is no Docker DNS here)."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
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

from tests.infra.compose import NGINX_CONF, nginx_upstreams
from tests.support.infra import free_port
from tests.support.processes import ServiceProcess
from tests.support.waiting import eventually

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
pytestmark = pytest.mark.skipif(
    not Path(NGINX).exists(), reason="nginx is not installed (apt-get install nginx-light)"
)


def local_copy(directory: Path, listen_port: int, hosts: dict[str, int]) -> Path:
    """The gateway config with each upstream host mapped to 127.0.0.1:<its port here>."""
    conf = NGINX_CONF.read_text()
    for host, port in hosts.items():
        conf = re.sub(rf"server {re.escape(host)}:\d+", f"server 127.0.0.1:{port}", conf)
    conf = conf.replace("listen 80;", f"listen 127.0.0.1:{listen_port};")
    conf = conf.replace("pid /tmp/nginx.pid;", f"pid {directory}/nginx.pid;")
    path = directory / "nginx.conf"
    path.write_text(conf)
    return path


def upstream_hosts() -> list[str]:
    return sorted(
        {h for servers in nginx_upstreams(NGINX_CONF.read_text()).values() for h, _ in servers}
    )


def test_nginx_accepts_the_gateway_config(tmp_path: Path) -> None:
    conf = local_copy(tmp_path, free_port(), {h: free_port() for h in upstream_hosts()})
    result = subprocess.run(
        [NGINX, "-t", "-p", str(tmp_path), "-c", str(conf), "-e", "stderr"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def stand_in(name: str) -> Starlette:
    async def http(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "upstream": name,
                "path": request.url.path,
                "traceparent": request.headers.get("traceparent"),
                "forwarded_for": request.headers.get("x-forwarded-for"),
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
async def gateway(tmp_path: Path) -> AsyncIterator[str]:
    hosts = {h: free_port() for h in upstream_hosts()}
    servers = [
        uvicorn.Server(uvicorn.Config(stand_in(h), host="127.0.0.1", port=p, log_level="error"))
        for h, p in hosts.items()
    ]
    tasks = [asyncio.create_task(s.serve()) for s in servers]
    await eventually(lambda: all(s.started for s in servers), what="stand-in upstreams started")
    port = free_port()
    conf = local_copy(tmp_path, port, hosts)
    nginx = ServiceProcess(
        "gateway-nginx",
        [NGINX, "-p", str(tmp_path), "-c", str(conf), "-e", "stderr", "-g",
         "daemon off; master_process off;"],
        {},
        health_url=f"http://127.0.0.1:{port}/gateway/healthz",
    )  # fmt: skip
    await asyncio.to_thread(nginx.start)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await asyncio.to_thread(nginx.stop)
        for server in servers:
            server.should_exit = True
        await asyncio.gather(*tasks)


async def test_gateway_routes_each_path_to_its_service_and_passes_traceparent(
    gateway: str,
) -> None:
    trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    async with httpx.AsyncClient(base_url=f"http://{gateway}") as client:
        seen = {}
        for path in (
            "/api/v1/notifications",
            "/api/v1/webhooks/endpoints",
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
    assert seen["/api/v1/webhooks/endpoints"]["upstream"] == "webhook"
    assert seen["/docs"]["upstream"] == "notification"
    assert seen["/"]["upstream"] == "demo"
    assert seen["/assets/app.js"]["upstream"] == "demo"


async def test_gateway_upgrades_websockets_and_spreads_them_over_realtime_instances(
    gateway: str,
) -> None:
    upstreams = set()
    for _ in range(4):
        async with websockets.connect(
            f"ws://{gateway}/api/v1/ws/notifications?token=x", open_timeout=10
        ) as socket:
            hello = json.loads(await asyncio.wait_for(socket.recv(), 10))
            assert hello["path"] == "/api/v1/ws/notifications"
            upstreams.add(hello["upstream"])
    assert upstreams == {"realtime-1", "realtime-2"}
