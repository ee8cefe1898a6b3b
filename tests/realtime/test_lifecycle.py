"""Shutdown and dead peers: sockets are released, clients are told to reconnect elsewhere."""

from __future__ import annotations

import signal
import time

from tests.realtime.sockets import Tab, stalled_socket
from tests.support.realtime_service import StartRealtime, token
from tests.support.users import new_user
from tests.support.waiting import eventually


async def test_sigterm_closes_every_socket_with_1012_and_exits_within_seconds(
    start_realtime: StartRealtime,
) -> None:
    realtime = start_realtime()
    tabs = [await Tab.open(realtime.url(token(new_user()))) for _ in range(3)]
    for tab in tabs:
        await tab.established()
    began = time.monotonic()
    exit_code = realtime.process.stop(timeout=10)
    # uvicorn re-raises the signal once it has shut down cleanly.
    assert exit_code in (0, -signal.SIGTERM), realtime.process.log_text()[-2000:]
    assert "Application shutdown complete" in realtime.process.log_text()
    assert time.monotonic() - began < 8
    for tab in tabs:
        assert await tab.closed() == 1012


async def test_a_dead_peer_is_detected_by_protocol_pings_and_released(
    start_realtime: StartRealtime,
) -> None:
    realtime = start_realtime(WS_PING_INTERVAL_S="0.5", WS_PING_TIMEOUT_S="0.5")
    user = new_user()
    alive = await Tab.open(realtime.url(token(user)))  # the client library answers pings
    await alive.established()
    dead = await stalled_socket(realtime.port, token(user))  # never answers
    await eventually(
        lambda: realtime.metrics()["tocsin_realtime_connections"],
        lambda n: n == 2,
        what="both sockets open",
    )
    await eventually(
        lambda: realtime.metrics()["tocsin_realtime_connections"],
        lambda n: n == 1,
        timeout=10,
        what="the dead socket to be released",
    )
    await alive.send({"type": "ping"})
    await alive.wait_for("pong", lambda m: m[-1]["event"] == "pong")
    dead.close()
    await alive.close()
