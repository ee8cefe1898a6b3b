"""A burst of creates whose every request ends determinate, and what each channel observed.

Each create carries an `Idempotency-Key`. A request that got no answer (connection refused or
cut by a crash) is sent again with the same key until it gets one: the service either returns
the first answer or creates it now, so afterwards each key is either accepted (2xx, with the
notification's id) or refused (an answered error) — never "maybe".
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.realtime.sockets import Tab
from tests.support.system import System, service_headers, user_headers

NO_ANSWER = (httpx.TransportError,)


@dataclass
class Burst:
    api_url: str
    users: list[str]
    total: int
    concurrency: int = 8
    deadline_s: float = 120.0
    accepted: dict[str, str] = field(default_factory=dict)  # notification id -> user
    titles: dict[str, str] = field(default_factory=dict)  # title -> user, of accepted ones
    refused: dict[str, int] = field(default_factory=dict)  # title -> status
    unanswered: int = 0
    _next: int = 0

    def _take(self) -> int | None:
        if self._next >= self.total:
            return None
        self._next += 1
        return self._next - 1

    async def _one(self, client: httpx.AsyncClient, index: int) -> None:
        user = self.users[index % len(self.users)]
        title = f"burst {index} {uuid.uuid4().hex[:8]}"
        key = uuid.uuid4().hex
        body = {"recipients": [user], "type": "incident_created", "priority": "high",
                "title": title, "message": f"event {index}"}  # fmt: skip
        headers = {**service_headers(), "Idempotency-Key": key}
        give_up = time.monotonic() + self.deadline_s
        while True:
            try:
                response = await client.post("/api/v1/notifications", json=body, headers=headers)
            except NO_ANSWER:
                self.unanswered += 1
                if time.monotonic() > give_up:
                    raise
                await asyncio.sleep(0.1)
                continue
            break
        if response.status_code in (200, 201):
            [created] = response.json()["notifications"]
            self.accepted[created["id"]] = user
            self.titles[title] = user
        else:
            self.refused[title] = response.status_code

    async def _worker(self, client: httpx.AsyncClient) -> None:
        while (index := self._take()) is not None:
            await self._one(client, index)

    async def run(self) -> None:
        limits = httpx.Limits(max_connections=self.concurrency)
        async with httpx.AsyncClient(base_url=self.api_url, timeout=10, limits=limits) as client:
            await asyncio.gather(*(self._worker(client) for _ in range(self.concurrency)))

    def done(self) -> int:
        return len(self.accepted) + len(self.refused)


async def open_tabs(system: System, users: list[str], instance: int = 0) -> dict[str, Tab]:
    tabs: dict[str, Tab] = {}
    for user in users:
        token = user_headers(user)["Authorization"].removeprefix("Bearer ")
        tab = await Tab.open(f"{system.ws_url(instance)}?token={token}")
        await tab.established()
        tabs[user] = tab
    return tabs


def socket_ids(tab: Tab) -> list[str]:
    return [m["data"]["id"] for m in tab.events("notification:new")]


def socket_seqs(tab: Tab) -> list[int]:
    return [int(m["seq"]) for m in tab.events("notification:new")]


def email_ids(system: System) -> Counter[str]:
    return Counter(r.header("X-Tocsin-Notification-Id") for r in system.smtp.messages())


def webhook_payloads(system: System) -> list[Any]:
    return [hook.payload for hook in list(system.receiver.received) if hook.verified]


def webhook_ids(system: System) -> Counter[str]:
    return Counter(
        p["data"]["data"]["notification"]["id"]
        for p in webhook_payloads(system)
        if p.get("type") == "notification.created"
    )


def webhook_seqs_by_user(system: System) -> dict[str, list[int]]:
    seqs: dict[str, list[int]] = defaultdict(list)
    for payload in webhook_payloads(system):
        if payload.get("type") == "notification.created":
            seqs[payload["data"]["user_id"]].append(int(payload["data"]["seq"]))
    return seqs


def duplicates(counts: Counter[str]) -> dict[str, int]:
    return {key: n for key, n in counts.items() if n > 1}
