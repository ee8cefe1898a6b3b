"""The operator's view of realtime instances: `status` counts their sockets, and a replay to
one instance reaches the sockets it holds (and only through that instance's own queue)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import websockets

from contracts.events import EventType, NotificationCreated
from contracts.notifications import Channel, NotificationData, Priority, Recipient
from contracts.topology import Topology
from identity import JwtSettings, mint_token
from tests.cli.eventstore import EventStore
from tests.support.cli import Cli
from tests.support.infra import free_port
from tests.support.processes import ServiceProcess
from tests.support.users import new_user
from tests.support.waiting import eventually


class Instance:
    def __init__(self, process: ServiceProcess, port: int, instance_id: str) -> None:
        self.process, self.port, self.instance_id = process, port, instance_id
        self.url = f"http://127.0.0.1:{port}"


@pytest.fixture
def realtime(cli_env: dict[str, str], declared: Topology) -> Iterator[Instance]:
    port, instance_id = free_port(), f"ops-{uuid.uuid4().hex[:8]}"
    process = ServiceProcess.python_module(
        f"cli-realtime-{instance_id}",
        "services.realtime",
        {
            **cli_env,
            "PORT": str(port),
            "INSTANCE_ID": instance_id,
            "NOTIFICATION_API_URL": "http://127.0.0.1:9",
        },
        health_url=f"http://127.0.0.1:{port}/readyz",
    ).start()
    try:
        yield Instance(process, port, instance_id)
    finally:
        process.stop()


def _created(user: str, title: str) -> dict[str, object]:
    notification = NotificationData(
        id=str(uuid.uuid4()),
        type="ops.test",
        priority=Priority.HIGH,
        title=title,
        message="",
        created_at=datetime.now(UTC),
    )
    created = NotificationCreated(
        notification=notification, recipient=Recipient(user_id=user), channels=[Channel.IN_APP]
    )
    return created.model_dump(mode="json")


async def test_status_counts_sockets_and_replay_reaches_them_through_one_instance(
    cli: Cli, realtime: Instance, store: EventStore
) -> None:
    user = new_user("rt")
    token = mint_token(JwtSettings(secret=cli.env["JWT_SECRET"]), user)
    url = f"ws://127.0.0.1:{realtime.port}/api/v1/ws/notifications?token={token}"
    async with websockets.connect(url) as socket:
        hello = json.loads(await asyncio.wait_for(socket.recv(), 10))
        assert hello["event"] == "connection:established"

        async def screen() -> str:
            return (
                await cli("status", "--realtime", realtime.url, "--max-relay-lag", "1e9")
            ).stdout

        await eventually(screen, lambda s: f"{realtime.url}: 1 sockets" in s, what="1 socket")
        await eventually(screen, lambda s: "presence: 1 users online" in s, what="1 online")

        await store.add(EventType.NOTIFICATION_CREATED, user, data=_created(user, "replayed"))
        result = await cli(
            "replay", "--consumer", "realtime", "--instance", realtime.instance_id,
            "--user", user, *store.window(before=1),
        )  # fmt: skip
        assert result.exit_code == 0, result.stderr
        assert "published: 1" in result.stdout

        async def next_new() -> dict[str, object]:
            while True:
                frame = json.loads(await asyncio.wait_for(socket.recv(), 15))
                if frame["event"] == "notification:new":
                    return dict(frame["data"])

        data = await next_new()
        assert data["title"] == "replayed"


async def test_replay_to_a_missing_instance_is_one_line(cli: Cli, store: EventStore) -> None:
    user = new_user("rt")
    await store.add(EventType.NOTIFICATION_CREATED, user, data=_created(user, "x"))
    result = await cli(
        "replay", "--consumer", "realtime", "--instance", "gone", "--user", user,
        *store.window(before=1),
    )  # fmt: skip
    assert result.exit_code == 2
    assert "does not exist" in result.stderr
