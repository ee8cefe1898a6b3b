"""The feature description's "Test with curl/wscat" section, followed literally against the
real services behind the real nginx gateway, all on one origin: a token from the `tocsin` CLI,
a plain WebSocket client (what wscat is) on /api/v1/ws/notifications?token=..., `{"type":
"ping"}` → `pong`, a notification created through the REST API on the same origin, and
`notification:new` arriving on the socket in the description's message format."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from typing import Any

import aio_pika
import httpx
import pytest
import websockets

from tests.support.cli import Cli
from tests.support.gateway import Gateway
from tests.support.infra import free_port
from tests.support.system import JWT_SECRET, System, running_system
from tests.support.users import new_user
from tests.support.waiting import eventually

RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


@pytest.fixture(scope="module")
def behind_gateway(
    database_url: str, amqp_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[System, Gateway]]:
    with running_system(database_url, amqp_url, email_enabled=False) as system:
        gateway = Gateway(
            tmp_path_factory.mktemp("gateway"),
            {
                "notification": [system.api_url.removeprefix("http://")],
                "realtime": [system.realtime_url().removeprefix("http://")],
                "webhook": [system.webhook_url.removeprefix("http://")],
                "demo": [f"127.0.0.1:{free_port()}"],
            },
        ).start()
        try:
            yield system, gateway
        finally:
            gateway.stop()


def cli_token(*args: str) -> str:
    done = Cli({"JWT_SECRET": JWT_SECRET}, drop=("JWT_",)).run("token", *args)
    assert done.exit_code == 0, done.stderr
    return done.stdout.strip()


async def next_event(socket: websockets.ClientConnection, event: str) -> dict[str, Any]:
    while True:
        frame = json.loads(await asyncio.wait_for(socket.recv(), 15))
        if frame["event"] == event:
            return frame


async def test_the_descriptions_testing_section_works_on_one_origin(
    behind_gateway: tuple[System, Gateway],
) -> None:
    _, gateway = behind_gateway
    user = new_user("seed")
    token = cli_token("--user", user)
    service = cli_token("--user", "seed-tests", "--scope", "notifications:write")

    url = f"{gateway.ws_origin}/api/v1/ws/notifications?token={token}"
    async with websockets.connect(url, open_timeout=15) as socket:
        hello = await next_event(socket, "connection:established")
        assert hello["data"]["user_id"] == user
        await socket.send('{"type": "ping"}')
        pong = await next_event(socket, "pong")
        assert RFC3339_UTC.match(pong["timestamp"])

        async with httpx.AsyncClient(base_url=gateway.origin, timeout=15) as client:
            created = await client.post(
                "/api/v1/notifications",
                headers={"Authorization": f"Bearer {service}", "Idempotency-Key": user},
                json={
                    "recipients": [user],
                    "type": "incident_created",
                    "priority": "high",
                    "title": "New Incident Created",
                    "message": "Incident INC-2024-001 has been created",
                    "entity_type": "incident",
                    "entity_id": "INC-2024-001",
                    "entity_url": "/incidents/INC-2024-001",
                },
            )
            assert created.status_code == 201, created.text
            webhooks = await client.get(
                "/api/v1/webhooks/endpoints", headers={"Authorization": f"Bearer {token}"}
            )
            assert webhooks.status_code == 200, webhooks.text

        frame = await next_event(socket, "notification:new")
    assert set(frame) >= {"event", "data", "timestamp"}
    data = frame["data"]
    assert {k: data[k] for k in ("type", "priority", "title", "entity_url", "is_read")} == {
        "type": "incident_created",
        "priority": "high",
        "title": "New Incident Created",
        "entity_url": "/incidents/INC-2024-001",
        "is_read": False,
    }
    assert set(data) >= {"id", "message", "entity_type", "entity_id", "created_at"}
    assert RFC3339_UTC.match(data["created_at"]) and RFC3339_UTC.match(frame["timestamp"])
    assert token not in gateway.log_text()


async def test_missing_and_invalid_tokens_get_the_descriptions_close_codes_through_the_gateway(
    behind_gateway: tuple[System, Gateway],
) -> None:
    _, gateway = behind_gateway
    codes = {}
    for name, query in (("missing", ""), ("invalid", "?token=not-a-jwt")):
        async with websockets.connect(
            f"{gateway.ws_origin}/api/v1/ws/notifications{query}", open_timeout=15
        ) as socket:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(socket.recv(), 15)
            assert closed.value.rcvd is not None
            codes[name] = closed.value.rcvd.code
    assert codes == {"missing": 4001, "invalid": 4002}


def timestamps(value: Any, key: str = "") -> list[tuple[str, str]]:
    """Every (key, value) of `value` whose key names a moment (`timestamp`, `*_at`)."""
    found: list[tuple[str, str]] = []
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, str) and (k == "timestamp" or k.endswith("_at")):
                found.append((k, v))
            found.extend(timestamps(v, k))
    elif isinstance(value, list):
        for item in value:
            found.extend(timestamps(item, key))
    return found


async def test_every_surface_writes_rfc3339_utc_with_z(
    behind_gateway: tuple[System, Gateway], amqp_url: str
) -> None:
    system, gateway = behind_gateway
    user = new_user("stamp")
    token = cli_token("--user", user)
    service = {
        "Authorization": f"Bearer {cli_token('--user', 'stamps', '--scope', 'notifications:write')}"
    }
    user_auth = {"Authorization": f"Bearer {token}"}
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(system.topology.events_exchange, routing_key="#")
        async with httpx.AsyncClient(base_url=gateway.origin, timeout=15) as client:
            endpoint = await client.post(
                "/api/v1/webhooks/endpoints",
                headers=user_auth,
                json={"url": system.receiver.url(f"stamps-{user}")},
            )
            assert endpoint.status_code in (200, 201), endpoint.text
            url = f"{gateway.ws_origin}/api/v1/ws/notifications?token={token}"
            async with websockets.connect(url, open_timeout=15) as socket:
                hello = await next_event(socket, "connection:established")
                created = await client.post(
                    "/api/v1/notifications",
                    headers={**service, "Idempotency-Key": f"stamp-{user}"},
                    json={"recipients": [user], "type": "stamp", "title": "When"},
                )
                frame = await next_event(socket, "notification:new")
            listed = await client.get("/api/v1/notifications", headers=user_auth)
        event = None
        async with queue.iterator(timeout=15) as messages:
            async for message in messages:
                async with message.process():
                    body = json.loads(message.body)
                if body.get("user_id") == user:
                    event = body
                    break
        await eventually(lambda: system.receiver.at(f"stamps-{user}"), what="webhook delivered")
    finally:
        await connection.close()
    hook = system.receiver.at(f"stamps-{user}")[0].payload
    surfaces = {
        "REST create": timestamps(created.json()),
        "REST list": timestamps(listed.json()),
        "connection:established": timestamps(hello),
        "notification:new": timestamps(frame),
        "broker event": timestamps(event),
        "webhook payload": timestamps(hook),
    }
    assert all(surfaces.values()), surfaces
    wrong = {
        name: [kv for kv in found if not RFC3339_UTC.match(kv[1])]
        for name, found in surfaces.items()
    }
    assert wrong == {name: [] for name in surfaces}, wrong
