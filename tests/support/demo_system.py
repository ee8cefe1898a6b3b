"""The demo system for browser tests: notification API, realtime service and demo page as real
processes with demo users of their own, the demo page's build, and screenshots."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any

import aio_pika
import httpx

from contracts.topology import Topology
from identity import JwtSettings, mint_token
from identity.tokens import WRITE_SCOPE
from tests.support.infra import free_port, unique_namespace
from tests.support.processes import REPO_ROOT, ServiceProcess
from tests.support.system import delete_broker_objects

WEB = REPO_ROOT / "clients" / "web"
DEMO_DIST = WEB / "dist" / "demo"
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
JWT_SECRET = "e2e-tests-secret"
JWT = JwtSettings(secret=JWT_SECRET)
USERS_PER_MODULE = 12


def newest_source_mtime() -> float:
    files = [*WEB.glob("src/**/*"), *WEB.glob("demo/**/*"), WEB / "package.json"]
    return max(p.stat().st_mtime for p in files if p.is_file())


@dataclass
class System:
    """The running services of one test module and the demo users it may hand out."""

    namespace: str
    demo_url: str
    api_url: str
    realtime: ServiceProcess
    realtime_port: int
    realtime_env: dict[str, str]
    users: list[str]
    _next: Iterator[int] = field(default_factory=count)

    def new_user(self) -> str:
        return self.users[next(self._next)]

    def page_url(self, user: str) -> str:
        return f"{self.demo_url}/?user={user}"

    def create(self, recipients: list[str], title: str, **extra: Any) -> list[dict[str, Any]]:
        """Create notifications through the REST API, as a service would."""
        service_token = mint_token(JWT, "e2e-tests", scopes=[WRITE_SCOPE], ttl_s=300)
        response = httpx.post(
            f"{self.api_url}/api/v1/notifications",
            json={
                "recipients": recipients,
                "type": "incident_created",
                "priority": extra.pop("priority", "high"),
                "title": title,
                "message": extra.pop("message", "Created by the browser tests"),
                **extra,
            },
            headers={"Authorization": f"Bearer {service_token}"},
            timeout=10,
        )
        assert response.status_code == 201, response.text
        items: list[dict[str, Any]] = response.json()["notifications"]
        return items

    def restart_realtime(self) -> None:
        """Start a new realtime process on the same port (after `realtime.stop()`)."""
        self.realtime = ServiceProcess.python_module(
            f"e2e-realtime-{self.namespace}-{uuid.uuid4().hex[:4]}",
            "services.realtime",
            self.realtime_env,
            health_url=f"http://127.0.0.1:{self.realtime_port}/readyz",
        ).start()


async def _delete_exchanges(amqp_url: str, topology: Topology) -> None:
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        for name in (topology.events_exchange, topology.incidents_exchange):
            await channel.exchange_delete(name)
    finally:
        await connection.close()


@contextmanager
def running_demo(
    database_url: str, amqp_url: str, demo_build: Path, incidents: bool = False
) -> Iterator[System]:
    """The services of one test module; `incidents` turns incident ingestion on (the demo
    incident page needs it) and removes the consumer's queues afterwards."""
    namespace = unique_namespace()
    api_port, realtime_port, demo_port = free_port(), free_port(), free_port()
    demo_origin = f"http://127.0.0.1:{demo_port}"
    api_url = f"http://127.0.0.1:{api_port}"
    users = [f"e2e-{uuid.uuid4().hex[:6]}-{i}" for i in range(USERS_PER_MODULE)]
    common = {
        "AMQP_URL": amqp_url,
        "TOCSIN_NAMESPACE": namespace,
        "JWT_SECRET": JWT_SECRET,
        "HOST": "127.0.0.1",
        "LOG_LEVEL": "INFO",
    }
    notification = ServiceProcess.python_module(
        f"e2e-notification-{namespace}",
        "services.notification",
        {
            **common,
            "PORT": str(api_port),
            "DATABASE_URL": database_url,
            "CORS_ORIGINS": demo_origin,
            "INCIDENTS_ENABLED": "true" if incidents else "false",
            "DELIVERIES_ENABLED": "false",
            "RELAY_POLL_INTERVAL_S": "0.2",
        },
        health_url=f"{api_url}/readyz",
    )
    realtime_env = {
        **common,
        "PORT": str(realtime_port),
        "NOTIFICATION_API_URL": api_url,
        "ALLOWED_ORIGINS": demo_origin,
        "UNBIND_GRACE_S": "0.5",
        "SHUTDOWN_TIMEOUT_S": "2",
    }
    realtime = ServiceProcess.python_module(
        f"e2e-realtime-{namespace}",
        "services.realtime",
        realtime_env,
        health_url=f"http://127.0.0.1:{realtime_port}/readyz",
    )
    demo = ServiceProcess.python_module(
        f"e2e-demo-{namespace}",
        "services.demo",
        {
            **common,
            "PORT": str(demo_port),
            "NOTIFICATION_API_URL": api_url,
            "PUBLIC_WS_URL": f"ws://127.0.0.1:{realtime_port}",
            "DEMO_USERS": ",".join(users),
            "DEMO_RECONNECT_INTERVAL_MS": "300",
            "DEMO_RECONNECT_MAX_DELAY_MS": "1500",
            "DEMO_INCIDENT_ID": f"demo-{namespace}",
            "STATIC_DIR": str(demo_build),
        },
        health_url=f"{demo_origin}/healthz",
    )
    started: list[ServiceProcess] = []
    state = System(namespace, demo_origin, api_url, realtime, realtime_port, realtime_env, users)
    try:
        for process in (notification, realtime, demo):
            started.append(process)
            process.start()
        yield state
    finally:
        for process in (*started, state.realtime):
            process.stop()
        # Playwright's sync API keeps an event loop in this thread: clean up from another.
        with ThreadPoolExecutor(1) as pool:
            cleanup = delete_broker_objects if incidents else _delete_exchanges
            pool.submit(asyncio.run, cleanup(amqp_url, Topology(namespace))).result()


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), animations="disabled")
    return path
