"""How long deliveries pause when a RabbitMQ node dies: a private 3-node cluster, the whole
pipeline, a steady stream of creates, and kill -9 of the node that leads the consumer queues.

Every service is given all three node addresses (AMQP_URL as a list) and queues replicated on
all three. USERS people each have a socket (a reconnecting tab), an email address and a
webhook; creates arrive at RATE a second, one person each, through the API. After WARMUP
seconds the leader of the email queue is killed with kill -9 and the stream goes on for AFTER
seconds more. For each channel the table gives the usual gap between two deliveries before
the kill and the longest gap after it: the time the cluster took to resume that channel
(reconnecting, electing new queue leaders, redelivering). Then whether every accepted
notification arrived exactly once, and how long the killed node took to be back in the
cluster once started again.

    python -m bench.cluster_failover [--rate 20] [--users 10] [--warmup 10] [--after 40]

Not a test: the figures depend on the machine (the three nodes share its cores).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field

from bench.harness import scratch_database
from tests.support.burst import Burst, Follower, email_ids, webhook_ids
from tests.support.cluster import PrivateCluster
from tests.support.databases import migrate_all
from tests.support.infra import locate_postgres
from tests.support.system import PrivateRabbitMq, System
from tests.support.users import new_user
from tests.support.waiting import eventually_sync

SAMPLE_S = 0.02
CHANNELS = ("socket", "email", "webhook")


@dataclass
class Timeline:
    """When each channel's count of deliveries grew, sampled every SAMPLE_S."""

    arrivals: dict[str, list[float]] = field(default_factory=lambda: {c: [] for c in CHANNELS})

    def usual_gap_ms(self, channel: str, before: float) -> float:
        times = [t for t in self.arrivals[channel] if t < before]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        return statistics.median(gaps) * 1000 if gaps else float("nan")

    def longest_gap_ms(self, channel: str, after: float) -> float:
        """The longest wait between two deliveries that ends after `after` (the kill)."""
        times = self.arrivals[channel]
        gaps = [b - a for a, b in itertools.pairwise(times) if b >= after]
        return max(gaps) * 1000 if gaps else float("nan")


async def sample(system: System, followers: list[Follower], timeline: Timeline) -> None:
    last = dict.fromkeys(CHANNELS, 0)
    while True:
        counts = {
            "socket": sum(len(f.new) for f in followers),
            "email": len(system.smtp.messages()),
            "webhook": len(system.receiver.received),
        }
        now = time.monotonic()
        for channel, count in counts.items():
            if count > last[channel]:
                timeline.arrivals[channel].append(now)
                last[channel] = count
        await asyncio.sleep(SAMPLE_S)


def leader_of_email_queue(cluster: PrivateCluster, system: System) -> PrivateRabbitMq:
    out = cluster.ctl_output(
        cluster.nodes[0], "list_queues", "-q", "--no-table-headers", "name", "leader"
    )
    leaders = dict(line.split("\t") for line in out.splitlines() if "\t" in line)
    leader = leaders[system.topology.queue("email")]
    return next(node for node in cluster.nodes if node.node == leader)


@dataclass
class Result:
    usual_ms: dict[str, float]
    longest_ms: dict[str, float]
    accepted: int
    missing: dict[str, int]
    duplicated: dict[str, int]
    rejoin_s: float
    killed: str


async def measure(args: argparse.Namespace, database_url: str, cluster: PrivateCluster) -> Result:
    system = System(database_url=database_url, amqp_url=cluster.amqp_url).start()
    followers: list[Follower] = []
    try:
        people = [new_user("failover") for _ in range(args.users)]
        for user in people:
            system.subscribe(user)
            system.register_webhook(user)
        followers = [await Follower([system.ws_url()], user).start() for user in people]
        timeline = Timeline()
        sampler = asyncio.create_task(sample(system, followers, timeline))
        total = int(args.rate * (args.warmup + args.after))
        burst = Burst(system.api_url, people, total=total, concurrency=8, rate=args.rate)
        running = asyncio.create_task(burst.run())
        await asyncio.sleep(args.warmup)
        victim = await asyncio.to_thread(leader_of_email_queue, cluster, system)
        killed_at = time.monotonic()
        await asyncio.to_thread(cluster.kill, victim)
        print(f"killed {victim.node} (email queue leader) at {args.warmup:.0f} s", flush=True)
        await running
        deadline = time.monotonic() + args.drain
        want = set(burst.accepted)
        while time.monotonic() < deadline:
            seen = {f"{m['data']['id']}" for f in followers for m in f.new}
            if want <= seen and want <= set(email_ids(system)) and want <= set(webhook_ids(system)):
                break
            await asyncio.sleep(0.5)
        sampler.cancel()
        socket_counts = Counter(m["data"]["id"] for f in followers for m in f.new)
        counts = {
            "socket": socket_counts,
            "email": email_ids(system),
            "webhook": webhook_ids(system),
        }
        started = time.monotonic()
        await asyncio.to_thread(victim.start)
        await asyncio.to_thread(
            eventually_sync,
            lambda: cluster.running_nodes(cluster.nodes[0]),
            lambda running: len(running) == 3,
            timeout=180,
            interval=0.5,
            what="the killed node back in the cluster",
        )
        rejoin_s = time.monotonic() - started
        return Result(
            usual_ms={c: timeline.usual_gap_ms(c, killed_at) for c in CHANNELS},
            longest_ms={c: timeline.longest_gap_ms(c, killed_at) for c in CHANNELS},
            accepted=len(want),
            missing={c: len(want - set(counts[c])) for c in CHANNELS},
            duplicated={c: sum(n - 1 for n in counts[c].values() if n > 1) for c in CHANNELS},
            rejoin_s=rejoin_s,
            killed=victim.node,
        )
    finally:
        for follower in followers:
            await follower.stop()
        if args.logs:
            for name, text in system.logs().items():
                print(f"--- {name} log (last 40 lines)\n" + "\n".join(text.splitlines()[-40:]))
        await asyncio.to_thread(system.stop)


def print_table(result: Result, args: argparse.Namespace) -> None:
    print()
    print(
        f"3-node cluster, {args.rate:g} creates/s for {args.users} people, "
        f"kill -9 of {result.killed} after {args.warmup:g} s, {result.accepted} accepted"
    )
    header = (
        f"{'channel':>8} {'usual gap ms':>13} {'longest gap after kill ms':>26} "
        f"{'missing':>8} {'duplicates':>11}"
    )
    print(header)
    print("-" * len(header))
    for c in CHANNELS:
        print(
            f"{c:>8} {result.usual_ms[c]:>13,.0f} {result.longest_ms[c]:>26,.0f} "
            f"{result.missing[c]:>8} {result.duplicated[c]:>11}"
        )
    print(f"killed node back in the cluster {result.rejoin_s:.1f} s after it was started again")


async def run(args: argparse.Namespace) -> Result:
    cluster = PrivateCluster(3)
    try:
        await asyncio.to_thread(cluster.start)
        async with scratch_database(locate_postgres(), "tocsin_bench_failover") as url:
            await asyncio.to_thread(migrate_all, url)
            return await measure(args, url, cluster)
    finally:
        await asyncio.to_thread(cluster.stop)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=20.0, help="creates a second")
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds before the kill")
    parser.add_argument("--after", type=float, default=40.0, help="seconds of stream after it")
    parser.add_argument("--drain", type=float, default=120.0, help="seconds to wait for the rest")
    parser.add_argument("--logs", action="store_true", help="print each service's log tail")
    args = parser.parse_args(argv)
    if not 1 <= args.rate <= 200 or not 1 <= args.users <= 100:
        parser.error("--rate 1..200, --users 1..100")
    print_table(asyncio.run(run(args)), args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
