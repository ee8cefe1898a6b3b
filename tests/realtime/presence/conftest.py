"""Presence tests: the real Redis (a key prefix of each test's own, deleted after it), real
realtime processes, and a private `redis-server` for the test that restarts the store. The
Redis fixtures are defined in tests/support/presence.py, which the push tests share."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.support.incident_story import incident_api as incident_api
from tests.support.incident_story import incident_queues as incident_queues
from tests.support.incident_story import incidents as incidents
from tests.support.presence import FAST, PrivateRedis
from tests.support.presence import presence_keys as presence_keys
from tests.support.presence import redis_client as redis_client
from tests.support.presence import redis_url as redis_url
from tests.support.realtime_service import Realtime, StartRealtime


@pytest.fixture
def start_presence(start_realtime: StartRealtime, redis_url: str) -> StartRealtime:
    """A realtime process on the test's Redis prefix; quick presence settings unless given."""

    def start(notification_api_url: str = "http://127.0.0.1:9", **env: str) -> Realtime:
        return start_realtime(notification_api_url, **{"REDIS_URL": redis_url, **FAST, **env})

    return start


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed: `apt-get install redis-server`")
    server = PrivateRedis().start()
    yield server
    server.destroy()
