"""Talking channels on a test socket."""

from __future__ import annotations

from typing import Any

import httpx

from tests.realtime.sockets import Tab
from tests.support.realtime_service import NotificationApi, token
from tests.support.waiting import eventually


def answers(tab: Tab, channel: str) -> list[dict[str, Any]]:
    """`subscribed`, `unsubscribed` and `error` events of the tab, in order (errors of any
    channel: they do not name one)."""
    return [
        m
        for m in tab.messages
        if m["event"] == "error"
        or (m["event"] in ("subscribed", "unsubscribed") and m["data"]["channel"] == channel)
    ]


async def subscribe(tab: Tab, channel: str, **fields: Any) -> dict[str, Any]:
    """Send `subscribe` and return its answer (`subscribed` or `error`)."""
    before = len(answers(tab, channel))
    await tab.send({"type": "subscribe", "channel": channel, **fields})
    seen = await tab.wait_for(
        f"an answer to subscribe {channel}", lambda _: len(answers(tab, channel)) > before
    )
    del seen
    return answers(tab, channel)[before]


def updates(tab: Tab, channel: str) -> list[dict[str, Any]]:
    return [
        m["data"]
        for m in tab.messages
        if m["event"] == "incident:updated" and m["data"]["channel"] == channel
    ]


def update_seqs(tab: Tab, channel: str) -> list[int]:
    return [u["seq"] for u in updates(tab, channel)]


async def wait_for_seqs(tab: Tab, channel: str, count: int, timeout: float = 20) -> list[int]:
    await tab.wait_for(
        f"{count} updates on {channel}",
        lambda _: len(update_seqs(tab, channel)) >= count,
        timeout=timeout,
    )
    return update_seqs(tab, channel)


async def round_trip(tab: Tab) -> None:
    """A ping answered: every message the server queued for the tab before it has arrived."""
    pongs = len(tab.events("pong"))
    await tab.send({"type": "ping"})
    await tab.wait_for("pong", lambda _: len(tab.events("pong")) > pongs)


async def incident_seq(api: NotificationApi, incident_id: str, user_id: str, seq: int) -> None:
    """Wait until the notification service has projected the incident up to `seq`."""

    async def current() -> int:
        async with httpx.AsyncClient(base_url=api.url, timeout=10) as client:
            response = await client.get(
                f"/api/v1/incidents/{incident_id}",
                headers={"Authorization": f"Bearer {token(user_id)}"},
            )
        return int(response.json()["seq"]) if response.status_code == 200 else 0

    await eventually(current, lambda s: s >= seq, timeout=20, what=f"incident seq {seq}")
