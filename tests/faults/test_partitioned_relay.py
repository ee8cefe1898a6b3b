"""Four relay partitions shared by relay processes. Three processes (at most two each): kill -9
of one holding two partitions in the middle of a burst, and the standby takes them over. Two
processes without a cap: the second takes half the partitions over from the first (its fair
share), and after kill -9 of either the other relays all four. Every accepted notification
reaches the socket, the SMTP server and the webhook receiver exactly once, and each user's
events arrive in seq order."""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Iterator

import asyncpg
import pytest

from database.engine import plain_url
from database.partitions import partition_filter, partition_holders
from tests.support.burst import burst_through_a_fault
from tests.support.cli import Cli
from tests.support.databases import migrated_database
from tests.support.processes import ServiceProcess
from tests.support.system import System
from tests.support.users import new_user
from tests.support.waiting import eventually

PARTITIONS = 4


class Relays:
    """Relay-only processes (`python -m services.notification relay`) of one system."""

    def __init__(self, system: System) -> None:
        self.system = system
        self.processes: dict[str, ServiceProcess] = {}

    def start(self, name: str, cap: int | None = 2) -> ServiceProcess:
        env = {
            **self.system._common(),
            "RELAY_PARTITIONS": str(PARTITIONS),
            "RELAY_POLL_INTERVAL_S": "0.2",
        }
        if cap is not None:
            env["RELAY_MAX_PARTITIONS"] = str(cap)
        args = [sys.executable, "-m", "services.notification", "relay"]
        process = ServiceProcess(f"system-{self.system.namespace}-{name}", args, env)
        self.processes[name] = process.start()
        return process

    def stop(self) -> None:
        for process in self.processes.values():
            process.stop()


def operator_cli(system: System) -> Cli:
    """The operator CLI against this system's store and broker."""
    return Cli({**system._common(), "TOCSIN_SERVICE_URLS": ""})


async def holders(database_url: str) -> dict[int, str]:
    """Partition → the relay session holding it (`tocsin-relay-<pid>`)."""
    conn = await asyncpg.connect(plain_url(database_url))
    try:
        return await partition_holders(conn, PARTITIONS)
    finally:
        await conn.close()


async def held(database_url: str) -> list[int]:
    return sorted(await holders(database_url))


async def held_by(database_url: str, process: ServiceProcess) -> list[int]:
    mine = f"tocsin-relay-{process.pid}"
    return sorted(p for p, holder in (await holders(database_url)).items() if holder == mine)


@pytest.fixture
def relays_system(postgres_server_url: str, amqp_url: str) -> Iterator[tuple[System, Relays]]:
    # A database of its own: the number of partitions is recorded per event store, and the
    # run's shared database is relayed with one.
    with migrated_database(postgres_server_url, prefix="tocsin_partitions") as database_url:
        system = System(
            database_url=database_url,
            amqp_url=amqp_url,
            notification_env={"RELAY_ENABLED": "false", "RELAY_PARTITIONS": str(PARTITIONS)},
        )
        relays = Relays(system)
        try:
            system.start()
            yield system, relays
        finally:
            relays.stop()
            system.stop()


async def kill_a_relay_mid_burst(system: System, relays: Relays, total: int, users: int) -> None:
    url = system.database_url
    relays.start("relay-a")
    await eventually(lambda: held(url), lambda p: len(p) == 2, what="relay-a holding two")
    relays.start("relay-b")
    await eventually(lambda: held(url), lambda p: len(p) == 4, what="relay-b holding two more")
    relays.start("relay-standby")
    people = [new_user("part") for _ in range(users)]
    async with burst_through_a_fault(system, people, total):
        relays.processes["relay-a"].kill()
        await eventually(
            lambda: held(url), lambda p: len(p) == 4, timeout=30,
            what="the standby holding relay-a's two partitions",
        )  # fmt: skip
    assert relays.processes["relay-b"].running()
    assert relays.processes["relay-standby"].running()
    await operate_partitions(system, relays, people[0])


async def partition_of(database_url: str, user: str) -> int:
    conn = await asyncpg.connect(plain_url(database_url))
    try:
        filter_sql = partition_filter("$1", "$2", "p")
        return int(
            await conn.fetchval(
                f"SELECT p FROM generate_series(0, $2 - 1) AS p WHERE {filter_sql}",
                user,
                PARTITIONS,
            )
        )
    finally:
        await conn.close()


async def operate_partitions(system: System, relays: Relays, user: str) -> None:
    """What an operator sees and may do: `tocsin status` shows each partition with its relay,
    `tocsin replay --partition` takes one partition's events (the one `user`'s are in), and
    the number of partitions changes only once no relay runs."""
    partition = await partition_of(system.database_url, user)
    tocsin = operator_cli(system)
    status = await tocsin("status", "--realtime", system.realtime_url())
    assert "relay partitions" in status.stdout, status.stdout + status.stderr
    assert status.stdout.count("active") >= PARTITIONS, status.stdout
    one = await tocsin(
        "replay", "--consumer", "email", "--from-position", "0",
        "--partition", str(partition), "--dry-run",
    )  # fmt: skip
    every = await tocsin("replay", "--consumer", "email", "--from-position", "0", "--dry-run")
    assert one.exit_code == 0 and every.exit_code == 0, one.stderr + every.stderr
    counted = [int(n) for n in re.findall(r"matched: (\d+)", one.stdout + every.stdout)]
    assert len(counted) == 2 and 0 < counted[0] < counted[1], one.stdout + every.stdout
    missing = await tocsin(
        "replay", "--consumer", "email", "--from-position", "0",
        "--partition", str(PARTITIONS), "--dry-run",
    )  # fmt: skip
    assert missing.exit_code == 2 and f"no partition {PARTITIONS}" in missing.stderr
    refused = await tocsin("relay", "partitions", "2")
    assert refused.exit_code == 2 and "relays hold partitions" in refused.stderr, refused
    relays.stop()
    changed = await tocsin("relay", "partitions", "2")
    assert changed.exit_code == 0 and "relay partitions: 2" in changed.stdout, changed


async def test_kill_9_of_a_relay_holding_two_of_four_partitions_loses_nothing(
    relays_system: tuple[System, Relays],
) -> None:
    await kill_a_relay_mid_burst(*relays_system, total=300, users=8)


@pytest.mark.slow
@pytest.mark.timeout(900)
async def test_kill_9_of_a_relay_holding_two_of_four_partitions_mid_burst_of_thousands(
    relays_system: tuple[System, Relays],
) -> None:
    await kill_a_relay_mid_burst(*relays_system, total=3000, users=20)


async def test_two_relay_processes_share_four_partitions_and_either_takes_all_when_one_dies(
    relays_system: tuple[System, Relays],
) -> None:
    system, relays = relays_system
    url = system.database_url
    a = relays.start("relay-a", cap=None)
    await eventually(lambda: held_by(url, a), lambda p: p == [0, 1, 2, 3], what="a holding all")
    b = relays.start("relay-b", cap=None)
    await eventually(
        lambda: asyncio.gather(held_by(url, a), held_by(url, b)),
        lambda both: both == [[0, 1], [2, 3]],
        timeout=20,
        what="b taking its share (the two highest) over from a",
    )
    people = [new_user("share") for _ in range(8)]
    async with burst_through_a_fault(system, people, total=300):
        relays.processes["relay-b"].kill()
        await eventually(
            lambda: held_by(url, a), lambda p: p == [0, 1, 2, 3], timeout=30,
            what="a holding all four again",
        )  # fmt: skip
