"""Realtime instances and the notification API as real processes, for the realtime tests and
the push tests that need presence: tokens, events to publish, and starting instances (the
start_realtime fixture is shared with the push tests)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from contracts.events import EventEnvelope, EventType
from contracts.notifications import NotificationStats
from contracts.topology import Topology
from contracts.websocket import WS_PATH
from identity import JwtSettings, mint_token
from identity.tokens import WRITE_SCOPE
from tests.support.infra import free_port
from tests.support.processes import ServiceProcess

JWT_SECRET = "realtime-tests-secret"
JWT = JwtSettings(secret=JWT_SECRET)


def token(user_id: str, ttl_s: int = 3600, **kwargs: Any) -> str:
    return mint_token(JWT, user_id, ttl_s=ttl_s, **kwargs)


@dataclass
class Realtime:
    process: ServiceProcess
    port: int

    def url(self, tok: str | None = None, since: int | None = None) -> str:
        params: dict[str, Any] = {}
        if tok is not None:
            params["token"] = tok
        if since is not None:
            params["since"] = since
        query = f"?{urlencode(params)}" if params else ""
        return f"ws://127.0.0.1:{self.port}{WS_PATH}{query}"

    def metrics(self) -> dict[str, float]:
        text = httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=5).text
        values: dict[str, float] = {}
        for line in text.splitlines():
            if line.startswith("tocsin_"):
                name, value = line.rsplit(" ", 1)
                values[name] = float(value)
        return values


StartRealtime = Callable[..., Realtime]


@pytest.fixture
def start_realtime(topology: Topology, amqp_url: str) -> Iterator[StartRealtime]:
    """Start realtime processes for this test; each is stopped (SIGTERM) at the end."""
    started: list[ServiceProcess] = []

    def start(notification_api_url: str = "http://127.0.0.1:9", **env: str) -> Realtime:
        port = free_port()
        name = f"realtime-{topology.namespace}-{len(started)}"
        process = ServiceProcess.python_module(
            name,
            "services.realtime",
            {
                "PORT": str(port),
                "AMQP_URL": amqp_url,
                "TOCSIN_NAMESPACE": topology.namespace,
                "JWT_SECRET": JWT_SECRET,
                "NOTIFICATION_API_URL": notification_api_url,
                "INSTANCE_ID": f"{uuid.uuid4().hex[:8]}",
                "UNBIND_GRACE_S": "0.5",
                **env,
            },
            health_url=f"http://127.0.0.1:{port}/readyz",
        )
        started.append(process)
        process.start()
        return Realtime(process, port)

    yield start
    for process in started:
        process.stop()


Publish = Callable[[EventEnvelope], Awaitable[None]]


def envelope(
    event_type: EventType,
    user_id: str,
    seq: int | None,
    data: dict[str, Any],
    unread: int = 1,
    total: int = 1,
) -> EventEnvelope:
    stats = NotificationStats(total=total, unread=unread) if seq is not None else None
    return EventEnvelope(
        event_id=str(uuid.uuid4()),
        type=event_type,
        occurred_at=datetime.now(UTC),
        user_id=user_id,
        seq=seq,
        data=data,
        stats=stats,
    )


def notification(notification_id: str | None = None, title: str = "Disk full") -> dict[str, Any]:
    return {
        "id": notification_id or str(uuid.uuid4()),
        "type": "incident_created",
        "priority": "high",
        "title": title,
        "message": "INC-1 was created",
        "entity_type": "incident",
        "entity_id": "inc-1",
        "entity_url": "/incidents/inc-1",
        "is_read": False,
        "created_at": datetime.now(UTC).isoformat(),
    }


def created(user_id: str, seq: int, notification_id: str | None = None) -> EventEnvelope:
    return envelope(
        EventType.NOTIFICATION_CREATED,
        user_id,
        seq,
        {
            "notification": notification(notification_id, title=f"event {seq}"),
            "recipient": {"user_id": user_id},
            "channels": ["in_app"],
        },
        unread=seq,
        total=seq,
    )


@dataclass
class NotificationApi:
    """The real notification service, as a process, and a client of its REST API."""

    process: ServiceProcess
    url: str

    def service_headers(self) -> dict[str, str]:
        tok = mint_token(JWT, f"svc-{uuid.uuid4().hex[:6]}", scopes=[WRITE_SCOPE])
        return {"Authorization": f"Bearer {tok}"}

    async def create(self, user_ids: list[str], title: str = "Disk full") -> list[str]:
        """Create a notification for each user; their ids, in the order of `user_ids`."""
        async with httpx.AsyncClient(base_url=self.url, timeout=10) as client:
            response = await client.post(
                "/api/v1/notifications",
                json={
                    "recipients": user_ids,
                    "type": "incident_created",
                    "priority": "high",
                    "title": title,
                    "entity_type": "incident",
                    "entity_id": "inc-1",
                },
                headers=self.service_headers(),
            )
        assert response.status_code == 201, response.text
        by_user = {n["user_id"]: n["id"] for n in response.json()["notifications"]}
        return [by_user[u] for u in user_ids]

    async def as_user(self, user_id: str, method: str, path: str) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.url, timeout=10) as client:
            response = await client.request(
                method, f"/api/v1{path}", headers={"Authorization": f"Bearer {token(user_id)}"}
            )
        assert response.status_code < 300, response.text
        return response


StartNotificationApi = Callable[[str], NotificationApi]
