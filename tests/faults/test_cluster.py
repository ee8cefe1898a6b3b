"""A private 3-node RabbitMQ cluster that loses a node in the middle of a burst.

Every service gets all three addresses in AMQP_URL. The node that leads the consumer queues is
killed with kill -9 while creates pour in: the relay and every consumer move to a surviving
node, the quorum queues elect new leaders and lose nothing, each socket catches up, and every
accepted notification reaches the socket, the SMTP server and the webhook receiver exactly
once (after dedupe), in per-user order, while the node is still down. Then it is started
again, rejoins, and the queues have their three members back."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from contracts.topology import Topology
from tests.support.burst import Burst, Follower, assert_each_accepted_delivered_once
from tests.support.cli import Cli
from tests.support.cluster import PrivateCluster
from tests.support.system import PrivateRabbitMq, System, require_private_servers
from tests.support.users import new_user
from tests.support.waiting import eventually, eventually_sync

CONSUMERS = ("email", "webhook", "notification-deliveries")


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    require_private_servers()
    nodes = PrivateCluster(3)
    try:
        yield nodes.start()
    finally:
        nodes.stop()


def queue_rows(cluster: PrivateCluster, via: PrivateRabbitMq) -> dict[str, list[str]]:
    """Queue name → [leader, members, online, consumers] as the cluster reports them."""
    out = cluster.ctl_output(
        via, "list_queues", "-q", "--no-table-headers",
        "name", "leader", "members", "online", "consumers",
    )  # fmt: skip
    rows: dict[str, list[str]] = {}
    for line in out.splitlines():
        name, *rest = line.split("\t")
        rows[name] = rest
    return rows


def leader_of(cluster: PrivateCluster, queue: str) -> PrivateRabbitMq:
    rows = queue_rows(cluster, cluster.nodes[0])
    leader = rows[queue][0]
    return next(node for node in cluster.nodes if node.node == leader)


def every_queue_whole(cluster: PrivateCluster, via: PrivateRabbitMq, system: System) -> bool:
    """Each consumer queue has a consumer and all three of its members online again."""
    rows = queue_rows(cluster, via)
    for consumer in CONSUMERS:
        row = rows.get(system.topology.queue(consumer))
        if row is None:
            return False
        _, _, online, consumers = row
        if int(consumers or 0) < 1 or sum(n.node in online for n in cluster.nodes) != 3:
            return False
    return True


async def lose_a_node_mid_burst(
    start_system: Callable[..., System], cluster: PrivateCluster, total: int, users: int
) -> None:
    system = start_system(amqp_url=cluster.amqp_url)
    people = [new_user("cluster") for _ in range(users)]
    for user in people:
        system.subscribe(user)
        system.register_webhook(user)
    followers = [await Follower([system.ws_url()], user).start() for user in people]
    try:
        victim = leader_of(cluster, system.topology.queue("email"))
        survivor = next(node for node in cluster.nodes if node is not victim)
        burst = Burst(system.api_url, people, total=total, concurrency=8)
        running = asyncio.create_task(burst.run())
        await eventually(
            burst.done, lambda n: n >= total // 3, timeout=180, what="a third answered"
        )
        await asyncio.to_thread(cluster.kill, victim)
        await eventually(
            burst.done, lambda n: n >= (2 * total) // 3, timeout=180,
            what="two thirds answered with a node down",
        )  # fmt: skip
        await asyncio.wait_for(running, timeout=300)
        # Everything arrives while the node is still down: the survivors carry every queue
        # (retry queues included), so no delivery waits for the node to come back.
        await assert_each_accepted_delivered_once(
            system, burst, {f.user: (lambda f=f: f.new) for f in followers}
        )
        await asyncio.to_thread(victim.start)
        await asyncio.to_thread(
            eventually_sync,
            lambda: cluster.running_nodes(survivor),
            lambda running_nodes: len(running_nodes) == 3,
            timeout=120,
            interval=1.0,
            what="the killed node back in the cluster",
        )
        await asyncio.to_thread(
            eventually_sync,
            lambda: every_queue_whole(cluster, survivor, system),
            timeout=120,
            interval=1.0,
            what="every consumer queue with a consumer and its three members online",
        )
    finally:
        for follower in followers:
            await follower.stop()


def pause(node: PrivateRabbitMq, paused: bool) -> None:
    """SIGSTOP / SIGCONT of one node's Erlang VM: to the others it is cut off, then back."""
    pid = int((node.dir / "pid").read_text().strip())
    os.kill(pid, signal.SIGSTOP if paused else signal.SIGCONT)


async def cut_off_a_node_mid_burst(
    start_system: Callable[..., System], cluster: PrivateCluster, total: int, users: int
) -> None:
    """A node frozen for 30 s (SIGSTOP, then SIGCONT) in the middle of a burst: the cluster
    goes on without it, the node comes back, and nothing is lost or delivered twice beyond
    what the consumers' idempotency absorbs."""
    system = start_system(amqp_url=cluster.amqp_url)
    people = [new_user("paused") for _ in range(users)]
    for user in people:
        system.subscribe(user)
        system.register_webhook(user)
    followers = [await Follower([system.ws_url()], user).start() for user in people]
    try:
        victim = leader_of(cluster, system.topology.queue("webhook"))
        survivor = next(node for node in cluster.nodes if node is not victim)
        burst = Burst(system.api_url, people, total=total, concurrency=8)
        running = asyncio.create_task(burst.run())
        await eventually(
            burst.done, lambda n: n >= total // 3, timeout=180, what="a third answered"
        )
        pause(victim, True)
        try:
            await asyncio.sleep(30)
        finally:
            pause(victim, False)
        await asyncio.wait_for(running, timeout=300)
        await assert_each_accepted_delivered_once(
            system, burst, {f.user: (lambda f=f: f.new) for f in followers}
        )
        await asyncio.to_thread(
            eventually_sync,
            lambda: every_queue_whole(cluster, survivor, system),
            timeout=180,
            interval=1.0,
            what="every consumer queue with a consumer and its three members online",
        )
    finally:
        for follower in followers:
            await follower.stop()


@pytest.mark.timeout(600)
async def test_losing_the_queue_leader_mid_burst_loses_nothing(
    cluster: PrivateCluster, start_system: Callable[..., System]
) -> None:
    await lose_a_node_mid_burst(start_system, cluster, total=300, users=6)


@pytest.mark.slow
@pytest.mark.timeout(1200)
async def test_losing_the_queue_leader_mid_burst_of_thousands_loses_nothing(
    cluster: PrivateCluster, start_system: Callable[..., System]
) -> None:
    await lose_a_node_mid_burst(start_system, cluster, total=3000, users=20)


@pytest.mark.slow
@pytest.mark.timeout(900)
async def test_a_node_cut_off_for_30_s_mid_burst_loses_nothing(
    cluster: PrivateCluster, start_system: Callable[..., System]
) -> None:
    await cut_off_a_node_mid_burst(start_system, cluster, total=1500, users=10)


def members(cluster: PrivateCluster, queue: str) -> list[str]:
    rows = queue_rows(cluster, cluster.nodes[0])
    return [node.node for node in cluster.nodes if node.node in rows[queue][1]]


async def test_quorum_queues_get_the_group_size_of_the_settings_and_a_mismatch_is_refused(
    cluster: PrivateCluster, tmp_path: Path
) -> None:
    """TOCSIN_QUORUM_GROUP_SIZE=2 on a 3-node cluster: every consumer queue and its DLQ have two
    members. A later declaration with another value is refused by the broker, and the CLI says
    which setting to keep."""
    namespace = f"quorum{uuid.uuid4().hex[:8]}"
    cli = Cli(
        {
            "TOCSIN_DEV_ENV": str(tmp_path / "no-local-run"),
            "AMQP_URL": cluster.amqp_url,
            "TOCSIN_NAMESPACE": namespace,
        }
    )

    declared = await cli("topology", "declare", env={"TOCSIN_QUORUM_GROUP_SIZE": "2"})
    assert declared.exit_code == 0, declared.stderr
    topology = Topology(namespace)
    for consumer in CONSUMERS:
        for queue in (topology.queue(consumer), topology.dead_letter_queue(consumer)):
            assert len(members(cluster, queue)) == 2, queue

    refused = await cli("topology", "declare")
    assert refused.exit_code == 2
    assert "PRECONDITION_FAILED" in refused.stderr
    assert "TOCSIN_QUORUM_GROUP_SIZE" in refused.stderr
    again = await cli("topology", "declare", env={"TOCSIN_QUORUM_GROUP_SIZE": "2"})
    assert again.exit_code == 0  # the same value is accepted again
