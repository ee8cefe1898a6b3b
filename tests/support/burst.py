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
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import httpx
import websockets

from tests.realtime.sockets import Tab
from tests.support.system import System, service_headers, user_headers
from tests.support.waiting import eventually

NO_ANSWER = (httpx.TransportError,)


@dataclass
class Burst:
    api_url: str
    users: list[str]
    total: int
    concurrency: int = 8
    deadline_s: float = 120.0
    rate: float | None = None
    """Creates started a second (a steady stream); None: as fast as `concurrency` allows."""
    accepted: dict[str, str] = field(default_factory=dict)  # notification id -> user
    titles: dict[str, str] = field(default_factory=dict)  # title -> user, of accepted ones
    refused: dict[str, int] = field(default_factory=dict)  # title -> status
    unanswered: int = 0
    _next: int = 0
    _started: float = 0.0

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
            if self.rate is not None:
                await asyncio.sleep(max(0.0, self._started + index / self.rate - time.monotonic()))
            await self._one(client, index)

    async def run(self) -> None:
        self._started = time.monotonic()
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


def missing_on_socket(
    system: System, user: str, mine: set[str], messages: list[dict[str, Any]]
) -> str:
    """What a socket lacks, by seq (the webhook receiver saw every notification's seq)."""
    seq_of = {
        p["data"]["data"]["notification"]["id"]: int(p["data"]["seq"])
        for p in webhook_payloads(system)
        if p.get("type") == "notification.created"
    }
    got = {m["data"]["id"] for m in messages}
    missing = sorted(seq_of.get(nid, -1) for nid in mine - got)
    seqs = [int(m["seq"]) for m in messages]
    return (
        f"socket of {user} lacks {len(mine - got)} of {len(mine)} notifications, seqs "
        f"{missing[:50]}; it received {len(seqs)}, seqs {seqs}"
    )


def duplicates(counts: Counter[str]) -> dict[str, int]:
    return {key: n for key, n in counts.items() if n > 1}


class Follower:
    """A browser tab that reconnects like the web client: on any close it connects again (to
    the next URL of the list) with `since=<last seq it saw>`. `new` holds every
    notification:new it received across connections, in arrival order."""

    def __init__(self, urls: list[str], user: str) -> None:
        self.urls = urls
        self.user = user
        self.token = user_headers(user)["Authorization"].removeprefix("Bearer ")
        self.new: list[dict[str, Any]] = []
        self.last_seq: int | None = None
        self.connections = 0
        self.handshakes: list[dict[str, Any]] = []
        self.closes: list[int] = []
        self._tab: Tab | None = None
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    async def start(self, wait: bool = True) -> Follower:
        """Start following; with `wait`, return once the first handshake arrived."""
        self._task = asyncio.create_task(self._run())
        if wait:
            await eventually(lambda: self.handshakes, what=f"{self.user} connected")
        return self

    async def _run(self) -> None:
        attempt = 0
        while not self._stopping and attempt < 200:
            url = self.urls[attempt % len(self.urls)]
            since = "" if self.last_seq is None else f"&since={self.last_seq}"
            attempt += 1
            try:
                tab = await Tab.open(f"{url}?token={self.token}{since}")
            except (OSError, TimeoutError, websockets.exceptions.WebSocketException):
                await asyncio.sleep(0.2)
                continue
            self._tab, self.connections, seen = tab, self.connections + 1, 0
            while tab.close_code is None or seen < len(tab.messages):
                while seen < len(tab.messages):
                    self._take(tab.messages[seen])
                    seen += 1
                tab.arrived.clear()
                if tab.close_code is None:
                    await tab.arrived.wait()
            self.closes.append(tab.close_code)
            await asyncio.sleep(0.2)

    def _take(self, message: dict[str, Any]) -> None:
        if message["event"] == "connection:established":
            self.handshakes.append(message["data"])
            if self.last_seq is None:
                self.last_seq = int(message["data"].get("seq") or 0)
            return
        if message.get("seq") is not None:
            self.last_seq = max(self.last_seq or 0, int(message["seq"]))
        if message["event"] == "notification:new":
            self.new.append(message)

    def ids(self) -> list[str]:
        return [m["data"]["id"] for m in self.new]

    def seqs(self) -> list[int]:
        return [int(m["seq"]) for m in self.new]

    async def stop(self) -> None:
        self._stopping = True
        if self._tab is not None:
            await self._tab.connection.close()
        if self._task is not None:
            await asyncio.wait_for(self._task, 10)


async def assert_each_accepted_delivered_once(
    system: System,
    burst: Burst,
    sockets: dict[str, Callable[[], list[dict[str, Any]]]],
    timeout: float = 180,
) -> None:
    """Every accepted create of the burst reached its user's socket (in seq order), the SMTP
    server and the webhook receiver exactly once; nothing refused appeared on a socket.
    `sockets` maps each user to the notification:new messages its socket(s) received."""
    expected = set(burst.accepted)
    # Polled slowly: the SMTP server and the webhook receiver share this process, and reading
    # thousands of messages' headers twenty times a second starved them.
    await eventually(
        lambda: set(email_ids(system)),
        lambda got: got >= expected,
        timeout=timeout,
        interval=0.5,
        what="every accepted notification emailed",
    )
    await eventually(
        lambda: set(webhook_ids(system)),
        lambda got: got >= expected,
        timeout=timeout,
        interval=0.5,
        what="every accepted notification at the webhook",
    )
    for user, received in sockets.items():
        mine = {nid for nid, owner in burst.accepted.items() if owner == user}
        try:
            await eventually(
                lambda r=received: {m["data"]["id"] for m in r()},  # type: ignore[misc]
                lambda got, m=mine: got >= m,  # type: ignore[misc]
                timeout=timeout,
                interval=0.2,
                what=f"{user}'s accepted notifications on its socket",
            )
        except AssertionError:
            raise AssertionError(missing_on_socket(system, user, mine, received())) from None
    await asyncio.sleep(1.0)  # a late duplicate would come within the shortest retry delay
    for user, received in sockets.items():
        messages = received()
        mine = {nid for nid, owner in burst.accepted.items() if owner == user}
        ids = [m["data"]["id"] for m in messages]
        assert sorted(ids) == sorted(mine), f"socket of {user}: lost, extra or repeated"
        seqs = [int(m["seq"]) for m in messages]
        assert seqs == sorted(set(seqs)), f"socket of {user}: seq out of order: {seqs}"
        assert not {m["data"]["title"] for m in messages} & set(burst.refused)
    emails, hooks = email_ids(system), webhook_ids(system)
    assert set(emails) == expected, "email: lost or extra"
    assert not duplicates(emails), f"email duplicates: {duplicates(emails)}"
    assert set(hooks) == expected, "webhook: lost or extra"
    assert not duplicates(hooks), f"webhook duplicates: {duplicates(hooks)}"
    for user, seqs in webhook_seqs_by_user(system).items():
        assert len(seqs) == len(set(seqs)), f"webhook seqs of {user} repeated: {seqs}"


@asynccontextmanager
async def burst_through_a_fault(
    system: System, people: list[str], total: int, concurrency: int = 8
) -> AsyncIterator[Burst]:
    """Subscribe `people` to email and a webhook each, open a socket for each, and start a burst
    of `total` creates among them; the block runs once a third of them were answered (the fault
    goes there) while the rest are in flight. After the block the burst is awaited to its end
    and every accepted create must reach each channel once (`assert_each_accepted_delivered_once`).
    The sockets are closed, and an unfinished burst cancelled, however the block ends."""
    for user in people:
        system.subscribe(user)
        system.register_webhook(user)
    tabs = await open_tabs(system, people)
    try:
        burst = Burst(system.api_url, people, total=total, concurrency=concurrency)
        running = asyncio.create_task(burst.run())
        try:
            await eventually(
                burst.done, lambda n: n >= total // 3, timeout=120, what="a third answered"
            )
            yield burst
            await asyncio.wait_for(running, timeout=300)
        finally:
            if not running.done():
                running.cancel()
                with suppress(asyncio.CancelledError):
                    await running
        await assert_each_accepted_delivered_once(
            system,
            burst,
            {user: partial(tab.events, "notification:new") for user, tab in tabs.items()},
        )
    finally:
        for tab in tabs.values():
            await tab.connection.close()
