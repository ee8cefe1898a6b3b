"""CORS and the WebSocket Origin check follow one setting (CORS_ORIGINS); documented limits hold
and exceeding them gets a clear 4xx or close code, never a 500 or a crash."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from contextlib import suppress

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from contracts.websocket import CloseCode
from services.notification.settings import Settings as NotificationSettings
from services.realtime.settings import Settings as RealtimeSettings
from tests.realtime.sockets import Tab
from tests.support.hostile_system import APP_ORIGIN
from tests.support.system import REPO_ROOT, System
from tests.support.users import new_user

EVIL = "https://evil.example"


def token_of(system: System, user: str) -> str:
    return system.user_headers(user)["Authorization"].removeprefix("Bearer ")


async def test_rest_cors_follows_the_one_origin_setting(hostile_system: System) -> None:
    async with httpx.AsyncClient(base_url=hostile_system.api_url, timeout=10) as api:
        preflight = {"Access-Control-Request-Method": "POST",
                     "Access-Control-Request-Headers": "authorization"}  # fmt: skip
        allowed = await api.options("/api/v1/notifications", headers={"Origin": APP_ORIGIN,
                                                                      **preflight})  # fmt: skip
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == APP_ORIGIN
        refused = await api.options("/api/v1/notifications", headers={"Origin": EVIL,
                                                                      **preflight})  # fmt: skip
        assert refused.status_code == 400
        assert "access-control-allow-origin" not in refused.headers
        simple = await api.get("/healthz", headers={"Origin": EVIL})
        assert "access-control-allow-origin" not in simple.headers


async def test_websocket_origin_check_follows_the_same_setting(hostile_system: System) -> None:
    user = new_user()
    url = f"{hostile_system.ws_url()}?token={token_of(hostile_system, user)}"
    for origin in (EVIL, "null", APP_ORIGIN + ".evil.example", APP_ORIGIN.replace("https", "http")):
        with pytest.raises(InvalidStatus) as refused:
            await Tab.open(url, origin=origin)
        assert refused.value.response.status_code == 403, origin
    allowed = await Tab.open(url, origin=APP_ORIGIN)
    assert (await allowed.established())["user_id"] == user
    await allowed.connection.close()


def test_defaults_allow_the_demo_page(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CORS_ORIGINS", "ALLOWED_ORIGINS"):
        monkeypatch.delenv(name, raising=False)
    demo = "http://localhost:8000"  # served through the gateway, like the API
    assert demo in NotificationSettings(jwt_secret="s").cors_origin_list
    assert demo in RealtimeSettings().origins
    monkeypatch.setenv("CORS_ORIGINS", "https://one.example")
    assert RealtimeSettings().origins == {"https://one.example"}
    assert NotificationSettings(jwt_secret="s").cors_origin_list == ["https://one.example"]
    run = (REPO_ROOT / "scripts" / "run").read_text()
    assert "ORIGIN=http://localhost:$GATEWAY_PORT" in run
    assert "CORS_ORIGINS:-$ORIGIN" in run


async def test_per_user_connection_cap_closes_the_extra_socket_4029(
    hostile_system: System,
) -> None:
    user, other = new_user(), new_user()
    url = f"{hostile_system.ws_url()}?token={token_of(hostile_system, user)}"
    tabs = [await Tab.open(url) for _ in range(5)]  # the configured cap
    try:
        for tab in tabs:
            await tab.established()
        extra = await Tab.open(url)
        assert await extra.closed() == CloseCode.TOO_MANY_CONNECTIONS
        neighbour = await Tab.open(
            f"{hostile_system.ws_url()}?token={token_of(hostile_system, other)}"
        )
        assert (await neighbour.established())["user_id"] == other
        tabs.append(neighbour)
        await tabs[0].connection.close()
        again = await Tab.open(url)
        await again.established()
        tabs.append(again)
    finally:
        for tab in tabs:
            await tab.connection.close()


async def test_oversized_frames_close_1009_and_the_server_serves_others(
    hostile_system: System,
) -> None:
    user = new_user()
    url = f"{hostile_system.ws_url()}?token={token_of(hostile_system, user)}"
    big = await Tab.open(url, max_size=None)
    await big.established()
    await big.connection.send("x" * (64 * 1024 + 1))
    assert await big.closed() == CloseCode.MESSAGE_TOO_BIG
    huge = await Tab.open(url)
    await huge.established()
    with suppress(ConnectionClosed, ConnectionResetError):  # the server may close mid-frame
        await huge.connection.send(b"\x00" * (8 * 1024 * 1024))
    assert await huge.closed() == CloseCode.MESSAGE_TOO_BIG
    other = await Tab.open(url)
    await other.established()
    await other.connection.send(json.dumps({"type": "ping"}))
    await other.wait_for("pong", lambda ms: any(m["event"] == "pong" for m in ms))
    await other.connection.close()


async def test_request_limits_answer_4xx_json_and_the_service_stays_up(
    hostile_system: System,
) -> None:
    user = new_user()
    service = hostile_system.service_headers()
    base = {"type": "incident_created", "priority": "high", "title": "t"}
    async with httpx.AsyncClient(base_url=hostile_system.api_url, timeout=30) as api:
        cases = [
            ("too many recipients", "POST", "/api/v1/notifications",
             {**base, "recipients": [f"u{i}" for i in range(1001)]}, service),
            ("long title", "POST", "/api/v1/notifications",
             {**base, "recipients": [user], "title": "t" * 201}, service),
            ("huge body", "POST", "/api/v1/notifications",
             {**base, "recipients": [user], "message": "m" * (8 * 1024 * 1024)}, service),
            ("long user id", "PUT", "/api/v1/subscribers/" + "u" * 5000, {"email": "a@b.c"},
             service),
            ("page too big", "GET", "/api/v1/notifications?limit=100000", None,
             hostile_system.user_headers(user)),
            ("long path id", "GET", "/api/v1/notifications/" + "9" * 10000, None,
             hostile_system.user_headers(user)),
            ("long idempotency key", "POST", "/api/v1/notifications",
             {**base, "recipients": [user]}, {**service, "Idempotency-Key": "k" * 5000}),
        ]  # fmt: skip
        for name, method, path, body, headers in cases:
            response = await api.request(method, path, json=body, headers=headers)
            assert 400 <= response.status_code < 500, (name, response.status_code, response.text)
            assert "code" in response.json()["error"], (name, response.text)
        nested = "[" * 100_000 + "]" * 100_000
        response = await api.post(
            "/api/v1/notifications",
            content=nested,
            headers={**service, "Content-Type": "application/json"},
        )
        assert 400 <= response.status_code < 500, response.text
        assert (await api.get("/readyz")).status_code == 200


async def test_a_person_flooding_the_api_gets_429s_and_everyone_else_is_still_served(
    hostile_system: System,
) -> None:
    """The documented default: a person gets a burst of 60 requests, then 20 a second. Twenty
    connections send requests until the first 429 (or 1,000 requests)."""
    flooder, bystander = new_user(), new_user()
    flood = hostile_system.user_headers(flooder)
    statuses: Counter[int] = Counter()
    refusals: list[httpx.Response] = []
    # Idle connections are dropped client-side before the server's keep-alive timeout can race
    # a request sent on them.
    limits = httpx.Limits(max_connections=20, keepalive_expiry=1.0)
    async with httpx.AsyncClient(base_url=hostile_system.api_url, timeout=30, limits=limits) as api:

        async def send_until_refused() -> None:
            while not refusals and sum(statuses.values()) < 1000:
                answer = await api.get("/api/v1/notifications/stats", headers=flood)
                statuses[answer.status_code] += 1
                if answer.status_code == 429:
                    refusals.append(answer)

        await asyncio.gather(*(send_until_refused() for _ in range(20)))
        assert set(statuses) == {200, 429}, statuses
        assert statuses[200] >= 60, "the burst is served"
        refused = refusals[0]
        assert refused.json()["error"]["code"] == "rate_limited"
        assert int(refused.headers["Retry-After"]) >= 1
        other = await api.get(
            "/api/v1/notifications/stats", headers=hostile_system.user_headers(bystander)
        )
        assert other.status_code == 200
        assert (await api.get("/readyz")).status_code == 200
