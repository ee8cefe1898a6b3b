"""The bell exactly as the feature description writes it (`<Header><NotificationBell
/></Header>`), inside one `<TocsinProvider apiUrl getToken>`, in a real Chromium, on one origin:
the real nginx gateway serves the page, the REST API and the WebSocket, as `make run` does."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.bell import BellPage
from tests.support.gateway import Gateway
from tests.support.infra import free_port
from tests.support.processes import ServiceProcess
from tests.support.system import JWT_SECRET, System


@pytest.fixture(scope="module")
def one_origin(
    database_url: str, amqp_url: str, demo_build: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[System, Gateway, list[str]]]:
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    users = [f"seed-bell-{uuid.uuid4().hex[:6]}-{i}" for i in range(3)]
    system = System(
        database_url,
        amqp_url,
        origins=origin,
        email_enabled=False,
        webhook_enabled=False,
        realtime_env={"ALLOWED_ORIGINS": origin},
    )
    demo: ServiceProcess | None = None
    gateway: Gateway | None = None
    try:
        system.start()
        demo_port = free_port()
        demo = ServiceProcess.python_module(
            f"seed-bell-demo-{system.namespace}",
            "services.demo",
            {
                "JWT_SECRET": JWT_SECRET,
                "HOST": "127.0.0.1",
                "PORT": str(demo_port),
                "NOTIFICATION_API_URL": system.api_url,
                "PUBLIC_API_URL": origin,
                "DEMO_USERS": ",".join(users),
                "STATIC_DIR": str(demo_build),
            },
            health_url=f"http://127.0.0.1:{demo_port}/healthz",
        )
        demo.start()
        gateway = Gateway(
            tmp_path_factory.mktemp("gateway"),
            {
                "notification": [system.api_url.removeprefix("http://")],
                "realtime": [system.realtime_url().removeprefix("http://")],
                "webhook": [f"127.0.0.1:{free_port()}"],
                "demo": [f"127.0.0.1:{demo_port}"],
            },
            port=port,
        )
        gateway.start()
        yield system, gateway, users
    finally:
        for running in (gateway, demo):
            if running is not None:
                running.stop()
        # Playwright's sync API keeps an event loop in this thread: clean up from another.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(system.stop).result()


def test_the_descriptions_bell_inside_the_provider_goes_live_and_toasts(
    one_origin: tuple[System, Gateway, list[str]], context: Any
) -> None:
    system, gateway, users = one_origin
    user = users[0]
    page = context.new_page()
    sockets: list[Any] = []
    page.on("websocket", lambda socket: sockets.append(socket))
    page.goto(f"{gateway.origin}/seed.html?user={user}")
    bell = BellPage(page)
    bell.expect_state("connected")
    bell.expect_unread(0)
    assert [s.url.split("?")[0] for s in sockets] == [
        f"ws://127.0.0.1:{gateway.port}/api/v1/ws/notifications"
    ]

    title = f"Incident INC-{uuid.uuid4().hex[:4]} has been created"
    created = httpx.post(
        f"{gateway.origin}/api/v1/notifications",
        json={"recipients": [user], "type": "incident_created", "priority": "high", "title": title},
        headers=system.service_headers(),
        timeout=10,
    )
    assert created.status_code == 201, created.text
    expect(bell.toast(title)).to_be_visible()
    bell.expect_unread(1)
    bell.open_panel()
    expect(bell.item(title)).to_have_attribute("data-unread", "true")
