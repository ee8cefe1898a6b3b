"""Presence for a test: the real Redis with a key prefix of the test's own (deleted after it),
fast presence timings, and a private redis-server for a test that restarts the store (the
fixtures are shared with the push tests)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as redis

from contracts.presence import PresenceKeys, default_presence_prefix
from contracts.topology import Topology
from tests.support.incident_story import incident_api as incident_api
from tests.support.incident_story import incident_queues as incident_queues
from tests.support.incident_story import incidents as incidents
from tests.support.infra import free_port, reachable

LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"
FAST = {
    "PRESENCE_HEARTBEAT_S": "0.5",
    "PRESENCE_DEAD_AFTER_S": "3",
    "PRESENCE_LEAVE_DELAY_S": "0.3",
}


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = os.environ.get("TEST_REDIS_URL") or LOCAL_REDIS_URL
    if not reachable(url, 6379):
        pytest.exit(
            f"Redis is not reachable at {url}: start it (`redis-server --daemonize yes`) "
            "or set TEST_REDIS_URL",
            returncode=3,
        )
    return url


@pytest.fixture
def presence_keys(topology: Topology) -> PresenceKeys:
    """The key prefix the test's realtime processes use by default (their namespace's)."""
    return PresenceKeys(default_presence_prefix(topology.namespace))


async def delete_prefix(client: redis.Redis, prefix: str) -> None:
    async for key in client.scan_iter(match=f"{prefix}:*", count=500):
        await client.delete(key)


@pytest.fixture
async def redis_client(redis_url: str, presence_keys: PresenceKeys) -> AsyncIterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    await delete_prefix(client, presence_keys.prefix)
    await client.aclose()


class PrivateRedis:
    """A `redis-server` of the test's own (free port, own directory, no persistence), so a
    test can restart the presence store without touching the shared one."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="tocsin-redis-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed"
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.dir),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not reachable(self.url, self.port):
            assert time.monotonic() < deadline, "private redis-server did not start"
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
