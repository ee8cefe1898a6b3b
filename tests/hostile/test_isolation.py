"""A user can never read, mark, delete or receive another user's notification: through any
endpoint, filter, cursor (copied, edited or forged) or WebSocket parameter."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import httpx
import orjson

from identity import JwtSettings
from tests.realtime.sockets import Tab
from tests.support.system import System
from tests.support.users import new_user
from tests.support.waiting import eventually


async def create(api: httpx.AsyncClient, system: System, user: str, title: str) -> str:
    response = await api.post(
        "/api/v1/notifications",
        json={"recipients": [user], "type": "incident_created", "priority": "high",
              "title": title},
        headers=system.service_headers(),
    )  # fmt: skip
    assert response.status_code == 201, response.text
    return str(response.json()["notifications"][0]["id"])


async def every_page(
    api: httpx.AsyncClient, headers: dict[str, str], query: str = ""
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(50):
        url = f"/api/v1/notifications?limit=1{query}" + (f"&cursor={cursor}" if cursor else "")
        page = await api.get(url, headers=headers)
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json().get("next_cursor")
        if not cursor:
            return items
    raise AssertionError("pagination did not end")


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


async def test_no_endpoint_filter_or_cursor_reaches_another_users_notifications(
    hostile_system: System, jwt_keys: JwtSettings
) -> None:
    alice, mallory = new_user(), new_user()
    async with httpx.AsyncClient(base_url=hostile_system.api_url, timeout=10) as api:
        alices = [await create(api, hostile_system, alice, f"alice {i}") for i in range(3)]
        mallorys = [await create(api, hostile_system, mallory, f"mallory {i}") for i in range(2)]
        as_alice, as_mallory = (hostile_system.user_headers(u) for u in (alice, mallory))

        for target in alices:
            for method, path in (
                ("GET", f"/api/v1/notifications/{target}"),
                ("POST", f"/api/v1/notifications/{target}/read"),
                ("POST", f"/api/v1/notifications/{target}/unread"),
                ("DELETE", f"/api/v1/notifications/{target}"),
            ):
                response = await api.request(method, path, headers=as_mallory)
                assert response.status_code == 404, (method, path, response.text)
                assert response.json()["error"]["code"] == "notification_not_found"
        assert (await api.post("/api/v1/notifications/read-all", headers=as_mallory)).is_success

        for query in ("", "&unread=true", "&unread=false", "&type=incident_created",
                      "&priority=high", "&user_id=" + alice, "&user=" + alice):  # fmt: skip
            seen = {item["id"] for item in await every_page(api, as_mallory, query)}
            assert not seen & set(alices), query
        assert {i["id"] for i in await every_page(api, as_mallory)} == set(mallorys)

        # Alice's own cursor in Mallory's hands pages through Mallory's rows only.
        first = (await api.get("/api/v1/notifications?limit=1", headers=as_alice)).json()
        stolen = first["next_cursor"]
        page = await api.get(f"/api/v1/notifications?cursor={stolen}", headers=as_mallory)
        assert page.status_code == 200 and not {i["id"] for i in page.json()["items"]} & set(alices)

        # Edited cursors are refused before reaching the database.
        payload, signature = stolen.split(".")
        edited_payload = b64(orjson.dumps(["2999-01-01T00:00:00+00:00", alices[0]]))
        for bad in (f"{edited_payload}.{signature}", f"{payload}.{signature[::-1]}", "x", "a.b.c",
                    "%00", "." * 500, b64(b"[1,2]") + "." + signature):  # fmt: skip
            response = await api.get("/api/v1/notifications", params={"cursor": bad},
                                     headers=as_mallory)  # fmt: skip
            assert response.status_code == 400, (bad, response.text)
            assert response.json()["error"]["code"] == "invalid_cursor"

        # A cursor signed with a key an attacker knows (the JWT public key) is refused: under
        # RS256 the service signs cursors with CURSOR_SECRET, never with the public key.
        assert jwt_keys.public_key
        raw = orjson.dumps(["2999-01-01T00:00:00+00:00", alices[0]])
        mac = hmac.new(jwt_keys.public_key.encode(), raw, hashlib.sha256).digest()[:16]
        forged = f"{b64(raw)}.{b64(mac)}"
        response = await api.get("/api/v1/notifications", params={"cursor": forged},
                                 headers=as_mallory)  # fmt: skip
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "invalid_cursor"

        # Alice's notifications are untouched by all of the above.
        for target in alices:
            mine = await api.get(f"/api/v1/notifications/{target}", headers=as_alice)
            assert mine.status_code == 200 and mine.json()["is_read"] is False
        stats = (await api.get("/api/v1/notifications/stats", headers=as_alice)).json()
        assert stats["unread"] == 3 and stats["total"] == 3


async def test_websocket_parameters_never_subscribe_to_another_user(
    hostile_system: System,
) -> None:
    alice, mallory = new_user(), new_user()
    token = hostile_system.user_headers(mallory)["Authorization"].removeprefix("Bearer ")
    tabs = []
    for extra in (f"&user_id={alice}", f"&user={alice}", f"&sub={alice}", "&since=0",
                  "&since=-5", "&since=99999999999999999999", f"&since={alice}",
                  f"&token=x&user_id={alice}"):  # fmt: skip
        tab = await Tab.open(f"{hostile_system.ws_url()}?token={token}{extra}")
        tabs.append(tab)
    try:
        for tab in tabs:
            if tab.messages and tab.messages[0]["event"] == "connection:established":
                assert tab.messages[0]["data"]["user_id"] == mallory
        async with httpx.AsyncClient(base_url=hostile_system.api_url, timeout=10) as api:
            secret = await create(api, hostile_system, alice, "for alice only")
            marker = await create(api, hostile_system, mallory, "for mallory")
        live = [tab for tab in tabs if tab.close_code is None]
        assert live, "every socket was refused"
        for tab in live:
            await tab.wait_for(
                "mallory's own notification",
                lambda ms: any(
                    isinstance(m.get("data"), dict) and m["data"].get("id") == marker for m in ms
                ),
            )
        for tab in tabs:
            ids = {m["data"].get("id") for m in tab.messages if isinstance(m.get("data"), dict)}
            assert secret not in ids
    finally:
        for tab in tabs:
            await tab.connection.close()


async def test_catch_up_only_replays_the_callers_events(hostile_system: System) -> None:
    alice, mallory = new_user(), new_user()
    async with httpx.AsyncClient(base_url=hostile_system.api_url, timeout=10) as api:
        secret = await create(api, hostile_system, alice, "alice's secret")
        await create(api, hostile_system, mallory, "mallory's own")
    token = hostile_system.user_headers(mallory)["Authorization"].removeprefix("Bearer ")
    tab = await Tab.open(f"{hostile_system.ws_url()}?token={token}&since=0")
    try:
        await tab.wait_for("the replay", lambda ms: len(ms) >= 2)
        await eventually(lambda: tab.events("notification:new"), what="mallory's replay")
        ids = {m["data"].get("id") for m in tab.messages if isinstance(m.get("data"), dict)}
        assert secret not in ids
    finally:
        await tab.connection.close()
