"""Channels: fan-out of one incident channel, and the cost of subscribe/unsubscribe churn.

    python -m bench.channel_fanout [--subscribers 1000] [--updates 50] [--churn 2000]

Starts a scratch database (migrated), the notification service (incident ingestion on) and two
realtime instances, all on free ports and a namespace of their own. One `incident.created`
naming every subscriber as a watcher makes the incident and its participants; then
`--subscribers` sockets, half on each instance, subscribe to `incident:<id>` (each access
check goes to the notification service). Fan-out: `incident.updated` events are published on
the events exchange as the relay publishes them, one at a time; each row's latency is from the
publish to the moment the last subscriber (or the median one) received it. Churn: 20 sockets
subscribe and unsubscribe in a loop, on a channel-token channel of their own (a broker bind and
unbind each time) and on the shared incident channel (an access check each time, no bind).
Everything it creates is removed. Prints one table. Not a test: the numbers depend on the
machine and on whatever else runs on it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aio_pika
from websockets.asyncio.client import ClientConnection, connect

from bench.harness import (
    BENCH_JWT_SECRET,
    REPO,
    clean_broker,
    free_port,
    scratch_database,
    start_notification_service,
    stop_process,
    wait_healthy,
)
from contracts.channels import IncidentUpdated
from contracts.events import EventEnvelope, EventType
from contracts.incidents import Incident, IncidentCreated, Person, Severity
from contracts.topology import Topology, routing_key
from contracts.websocket import WS_PATH
from identity import JwtSettings, mint_token
from identity.channel_tokens import mint_channel_token
from messaging.incidents import IncidentPublisher
from messaging.publisher import envelope_message
from messaging.topology import consumer_queue_names
from services.notification.incidents import consumer_spec
from services.notification.migrations import upgrade

SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
AMQP = "amqp://guest:guest@127.0.0.1:5672/"
JWT = JwtSettings(secret=BENCH_JWT_SECRET)
CHURN_SOCKETS = 20


@dataclass
class Subscriber:
    """One socket; `arrivals[seq]` is when it received the update with that seq."""

    socket: ClientConnection
    arrivals: dict[int, float] = field(default_factory=dict)
    answers: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)

    async def read(self) -> None:
        async for raw in self.socket:
            message = json.loads(raw)
            if message["event"] == "incident:updated":
                self.arrivals[message["data"]["seq"]] = time.perf_counter()
            elif message["event"] in ("subscribed", "unsubscribed", "error"):
                self.answers.put_nowait(message)

    async def ask(self, payload: dict[str, Any]) -> dict[str, Any]:
        await self.socket.send(json.dumps(payload))
        return await asyncio.wait_for(self.answers.get(), 30)


def start_realtime(port: int, topology: Topology, api_url: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "services.realtime"],
        env={
            **os.environ,
            "PORT": str(port),
            "AMQP_URL": AMQP,
            "TOCSIN_NAMESPACE": topology.namespace,
            "JWT_SECRET": BENCH_JWT_SECRET,
            "NOTIFICATION_API_URL": api_url,
            "LOG_LEVEL": "WARNING",
            "MAX_CONNECTIONS_PER_USER": "1000",
        },
        cwd=REPO,
    )


async def open_subscriber(port: int, user: str) -> Subscriber:
    url = f"ws://127.0.0.1:{port}{WS_PATH}?token={mint_token(JWT, user)}"
    socket = await connect(url, open_timeout=60, max_queue=None)
    await socket.recv()  # connection:established
    subscriber = Subscriber(socket)
    asyncio.get_running_loop().create_task(subscriber.read())
    return subscriber


def update_envelope(incident: Incident, seq: int) -> EventEnvelope:
    now = datetime.now(UTC)
    update = IncidentUpdated.model_validate(
        {
            "channel": f"incident:{incident.id}",
            "incident": {**incident.model_dump(mode="json"), "updated_at": now.isoformat()},
            "change": {
                "type": "incident.comment_added",
                "event_id": str(uuid.uuid4()),
                "occurred_at": now.isoformat(),
                "comment": {"id": str(seq), "excerpt": f"update {seq}"},
            },
            "seq": seq,
        }
    )
    return EventEnvelope(
        event_id=str(uuid.uuid4()),
        type=EventType.INCIDENT_UPDATED,
        occurred_at=now,
        user_id=update.channel,
        data=update.model_dump(mode="json"),
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def fan_out(
    exchange: aio_pika.abc.AbstractExchange,
    incident: Incident,
    subscribers: list[Subscriber],
    seqs: range,
) -> tuple[list[float], list[float]]:
    """Latencies (ms) to the last and to the median subscriber, one update at a time."""
    last: list[float] = []
    median: list[float] = []
    for seq in seqs:
        envelope = update_envelope(incident, seq)
        started = time.perf_counter()
        await exchange.publish(
            envelope_message(envelope), routing_key(envelope.type, envelope.user_id)
        )
        deadline = time.monotonic() + 30
        while any(seq not in s.arrivals for s in subscribers):
            if time.monotonic() > deadline:
                missing = sum(seq not in s.arrivals for s in subscribers)
                raise RuntimeError(f"update {seq} did not reach {missing} subscribers")
            await asyncio.sleep(0.001)
        arrivals = [s.arrivals[seq] - started for s in subscribers]
        last.append(max(arrivals) * 1000)
        median.append(statistics.median(arrivals) * 1000)
    return last, median


ChannelFor = Callable[[str, int], tuple[str, dict[str, Any]]]
"""(user, cycle) → the channel to subscribe to and the message's extra fields."""


async def churn(ports: list[int], users: list[str], channel_for: ChannelFor, cycles: int) -> float:
    """Subscriptions per second (each a subscribe and an unsubscribe, both answered), with one
    socket per user in `users` looping at once, spread over the instances."""
    sockets = [await open_subscriber(ports[i % 2], u) for i, u in enumerate(users)]
    per_socket = max(1, cycles // len(users))

    async def loop(user: str, subscriber: Subscriber) -> None:
        for n in range(per_socket):
            channel, fields = channel_for(user, n)
            answer = await subscriber.ask({"type": "subscribe", "channel": channel, **fields})
            if answer["event"] != "subscribed":
                raise RuntimeError(f"subscribe refused: {answer}")
            await subscriber.ask({"type": "unsubscribe", "channel": channel})

    started = time.perf_counter()
    await asyncio.gather(*(loop(u, s) for u, s in zip(users, sockets, strict=True)))
    elapsed = time.perf_counter() - started
    for subscriber in sockets:
        await subscriber.socket.close()
    return per_socket * len(users) / elapsed


def token_channel(user: str, n: int) -> tuple[str, dict[str, Any]]:
    channel = f"room:{user}-{n}"
    return channel, {"token": mint_channel_token(JWT, user, channel)}


async def bench(subscriber_count: int, updates: int, churn_cycles: int) -> list[tuple[str, str]]:
    topology = Topology(namespace=f"bench-channels-{uuid.uuid4().hex[:8]}")
    spec = consumer_spec(topology)
    processes: list[subprocess.Popen[bytes]] = []
    subscribers: list[Subscriber] = []
    async with scratch_database(SERVER, "tocsin_bench_channels") as url:
        await asyncio.to_thread(upgrade, url)
        api_port = free_port()
        api_url = f"http://127.0.0.1:{api_port}"
        try:
            api = start_notification_service(
                url, AMQP, topology, api_port, 1, quiet=True, DELIVERIES_ENABLED="false"
            )
            processes.append(api)
            await wait_healthy(f"{api_url}/readyz", lambda: api.poll() is not None, "API")
            ports = [free_port(), free_port()]
            for port in ports:
                process = start_realtime(port, topology, api_url)
                processes.append(process)
                await wait_healthy(
                    f"http://127.0.0.1:{port}/readyz",
                    lambda p=process: p.poll() is not None,  # type: ignore[misc]
                    "realtime instance",
                )
            users = [f"watcher-{i}-{uuid.uuid4().hex[:6]}" for i in range(subscriber_count)]
            incident = Incident(
                id=f"bench-{uuid.uuid4().hex[:8]}",
                key="INC-1",
                title="Fan-out",
                severity=Severity.SEV2,
                status="open",
            )
            created = IncidentCreated(
                event_id=str(uuid.uuid4()),
                occurred_at=datetime.now(UTC),
                incident=incident,
                actor=Person(id="bench-actor"),
                watchers=[Person(id=u) for u in users],
            )
            async with IncidentPublisher(AMQP, namespace=topology.namespace) as incidents:
                await incidents.publish(created)
            channel = f"incident:{incident.id}"
            started = time.perf_counter()
            for start in range(0, subscriber_count, 100):
                batch = users[start : start + 100]
                subscribers += await asyncio.gather(
                    *(open_subscriber(ports[i % 2], u) for i, u in enumerate(batch, start))
                )
            while True:  # the first subscribe may come before the incident is projected
                answer = await subscribers[0].ask({"type": "subscribe", "channel": channel})
                if answer["event"] == "subscribed":
                    break
                await asyncio.sleep(0.2)
            answers = await asyncio.gather(
                *(s.ask({"type": "subscribe", "channel": channel}) for s in subscribers[1:])
            )
            refused = [a for a in answers if a["event"] != "subscribed"]
            if refused:
                raise RuntimeError(f"{len(refused)} subscribes refused: {refused[0]}")
            subscribe_s = time.perf_counter() - started

            connection = await aio_pika.connect(AMQP)
            try:
                exchange = await (await connection.channel()).get_exchange(topology.events_exchange)
                await fan_out(exchange, incident, subscribers, range(2, 5))  # warm-up
                measured = range(5, 5 + updates)
                last, median = await fan_out(exchange, incident, subscribers, measured)
            finally:
                await connection.close()

            churners = [f"churn-{i}-{uuid.uuid4().hex[:6]}" for i in range(CHURN_SOCKETS)]
            token_rate = await churn(ports, churners, token_channel, churn_cycles)
            incident_rate = await churn(
                ports, users[:CHURN_SOCKETS], lambda _u, _n: (channel, {}), churn_cycles
            )
        finally:
            for subscriber in subscribers:
                await subscriber.socket.close()
            for process in reversed(processes):
                stop_process(process)
            queues = consumer_queue_names(topology, spec.name, spec.retry_delays_ms)
            await clean_broker(AMQP, topology, queues)
    n = subscriber_count
    return [
        ("subscribers on incident channel (2 instances)", f"{n}"),
        ("sockets opened + subscribed (s)", f"{subscribe_s:.1f}"),
        (f"fan-out to last subscriber p50 (ms, {updates} updates)", f"{percentile(last, 0.5):.1f}"),
        ("fan-out to last subscriber p99 (ms)", f"{percentile(last, 0.99):.1f}"),
        ("fan-out to median subscriber p50 (ms)", f"{percentile(median, 0.5):.1f}"),
        ("churn, token channel, own bind (subscriptions/s)", f"{token_rate:.0f}"),
        ("churn, shared incident channel (subscriptions/s)", f"{incident_rate:.0f}"),
    ]


def print_table(rows: list[tuple[str, str]]) -> None:
    print("channels: one incident channel across 2 realtime instances, and subscription churn")
    width = max(len(name) for name, _ in rows) + 2
    print(f"{'metric':<{width}}{'value':>10}")
    print("-" * (width + 10))
    for name, value in rows:
        print(f"{name:<{width}}{value:>10}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--updates", type=int, default=50)
    parser.add_argument("--churn", type=int, default=2000, help="subscriptions per churn row")
    args = parser.parse_args(argv)
    print_table(asyncio.run(bench(args.subscribers, args.updates, args.churn)))


if __name__ == "__main__":
    main()
