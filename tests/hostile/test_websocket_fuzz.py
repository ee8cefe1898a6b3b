"""WebSocket fuzzing against a real realtime process: random text and binary frames, oversized
frames, ping floods and rapid connect/disconnect (clean and aborted). The server stays up, keeps
answering another client, and gives back what the sockets took: open sockets, file descriptors
and memory return to their level after a warm-up round."""

from __future__ import annotations

import asyncio
import json
import os
from contextlib import suppress
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.realtime.sockets import Tab
from tests.support.system import System
from tests.support.users import new_user
from tests.support.waiting import eventually

any_text = st.text(st.characters(exclude_categories=()), max_size=50)
"""Every code point, NUL and lone surrogates included (JSON carries them as \\u escapes)."""
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | any_text,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(any_text, children, max_size=5)
    ),
    max_leaves=20,
)
frames = st.one_of(
    st.text(max_size=4000),
    st.binary(max_size=4000),
    json_values.map(json.dumps),
    st.fixed_dictionaries({"type": st.sampled_from(["ping", "auth", "subscribe", "", "PING"])},
                          optional={"token": any_text, "data": json_values}
                          ).map(json.dumps),
)  # fmt: skip


def token_of(system: System, user: str) -> str:
    return system.user_headers(user)["Authorization"].removeprefix("Bearer ")


def process_stats(system: System) -> dict[str, float]:
    pid = system.processes["realtime-0"].pid
    rss = 0.0
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
    return {"rss_mb": rss, "fds": len(os.listdir(f"/proc/{pid}/fd"))}


async def open_sockets(system: System) -> float:
    async with httpx.AsyncClient(timeout=10) as http:
        metrics = (await http.get(f"{system.realtime_url()}/metrics")).text
    for line in metrics.splitlines():
        if line.startswith("tocsin_realtime_connections "):
            return float(line.split()[1])
    raise AssertionError("no tocsin_realtime_connections metric")


async def ping_answered(tab: Tab) -> None:
    before = len(tab.events("pong"))
    await tab.connection.send(json.dumps({"type": "ping"}))
    await tab.wait_for("a pong", lambda _m: len(tab.events("pong")) > before, timeout=15)


def expected_reply(frame: str | bytes) -> str:
    """The event the server answers `frame` with: a pong for a ping, an error for anything else."""
    if isinstance(frame, bytes):
        return "error"
    try:
        payload = json.loads(frame)
    except ValueError:
        return "error"
    return "pong" if isinstance(payload, dict) and payload.get("type") == "ping" else "error"


# Each example opens its own socket and closes it before the example ends: a socket kept
# across examples or tests outlives the event loop it was opened on (pytest-asyncio gives
# every test its own loop), its reader dies with that loop and every later ping goes unanswered.
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(sequence=st.lists(frames, min_size=1, max_size=5))
async def test_random_frames_get_an_error_each_and_never_close_the_socket(
    hostile_system: System, sequence: list[str | bytes]
) -> None:
    tab = await Tab.open(f"{hostile_system.ws_url()}?token={token_of(hostile_system, new_user())}")
    try:
        await tab.established()
        for frame in sequence:
            await tab.connection.send(frame)
        await tab.connection.send(json.dumps({"type": "ping"}))
        expected = [*map(expected_reply, sequence), "pong"]
        # A channel message (subscribe, unsubscribe, typing) is answered once the channel work
        # it starts is done, so its reply may follow a later ping's pong: every frame gets
        # exactly one reply, in any order.
        await tab.wait_for(
            "a reply to every frame and a pong",
            lambda m: len(m) > len(expected) or tab.close_code is not None,
        )
        replies = [m["event"] for m in tab.messages[1:]]
        assert tab.close_code is None, (sequence, tab.close_code, tab.close_reason)
        assert sorted(replies) == sorted(expected), (sequence, replies)
        assert all(e["data"].get("code") and e["data"].get("message") for e in tab.events("error"))
    finally:
        await tab.close()


async def ping_flood(system: System, pings: int) -> None:
    user, watcher = new_user(), new_user()
    control = await Tab.open(f"{system.ws_url()}?token={token_of(system, watcher)}")
    await control.established()
    async with connect(f"{system.ws_url()}?token={token_of(system, user)}") as ws:
        await ws.recv()
        ping = json.dumps({"type": "ping"})

        async def flood() -> None:
            for start in range(0, pings, 500):
                await asyncio.gather(*(ws.send(ping) for _ in range(min(500, pings - start))))

        async def count_pongs() -> int:
            pongs = 0
            with suppress(ConnectionClosed):
                while pongs < pings:
                    message: Any = json.loads(await asyncio.wait_for(ws.recv(), 30))
                    pongs += message["event"] == "pong"
            return pongs

        counter = asyncio.create_task(count_pongs())
        await flood()
        await ping_answered(control)  # the other client is served during the flood
        pongs = await counter
    assert pongs == pings or ws.close_code == 4008, (pongs, ws.close_code)
    await ping_answered(control)
    await control.connection.close()


async def test_thousands_of_pings_are_answered_and_others_still_served(
    hostile_system: System,
) -> None:
    await ping_flood(hostile_system, 5000)


async def churn(system: System, sockets: int) -> None:
    """Open and drop `sockets` sockets, half closed cleanly and half aborted (TCP reset)."""
    for start in range(0, sockets, 100):
        batch = []
        for i in range(start, min(sockets, start + 100)):
            user = new_user()
            batch.append(connect(f"{system.ws_url()}?token={token_of(system, user)}&since={i}"))
        opened = await asyncio.gather(*batch, return_exceptions=True)
        for i, ws in enumerate(opened):
            if isinstance(ws, BaseException):
                continue
            if i % 2:
                ws.transport.abort()
            else:
                await ws.close()


async def rapid_connect_disconnect(system: System, sockets: int) -> None:
    await churn(system, sockets)  # warm-up: allocator pools, caches
    await eventually(lambda: open_sockets(system), lambda n: n == 0, timeout=60,
                     what="every churned socket released")  # fmt: skip
    before = process_stats(system)
    await churn(system, sockets)
    await eventually(lambda: open_sockets(system), lambda n: n == 0, timeout=60,
                     what="every churned socket released")  # fmt: skip
    after = await eventually(
        lambda: process_stats(system),
        lambda s: s["fds"] <= before["fds"] + 5,
        timeout=30,
        what="file descriptors back to their level",
    )
    assert after["rss_mb"] - before["rss_mb"] < 25, (before, after)
    control = await Tab.open(f"{system.ws_url()}?token={token_of(system, new_user())}")
    await control.established()
    await ping_answered(control)
    await control.connection.close()


async def test_rapid_connect_and_disconnect_leaks_no_sockets_fds_or_memory(
    hostile_system: System,
) -> None:
    await rapid_connect_disconnect(hostile_system, 200)


@pytest.mark.slow
@pytest.mark.timeout(900)
async def test_rapid_connect_and_disconnect_of_thousands(hostile_system: System) -> None:
    await rapid_connect_disconnect(hostile_system, 5000)


@pytest.mark.slow
@pytest.mark.timeout(900)
async def test_a_flood_of_100k_pings(hostile_system: System) -> None:
    await ping_flood(hostile_system, 100_000)
