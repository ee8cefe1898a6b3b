"""Relay partitions of the notification event store, shared by its relay and the operator CLI.

The events of the store are split into P partitions by a hash of the
user id, and each partition has its own active relay (its own advisory lock), so P relays
publish in parallel while each user's events, all in one partition, keep their order.

The hash is Postgres's `hashtextextended(user_id, 0)`, computed where the events are read, so
no write path stores a partition. The number P in use is recorded in
`notification.relay_partitions` by the first relay; a relay started with another number
refuses to run (PartitionsMismatch) rather than let two relays publish one user's events.
Changing P: stop every relay (or set RELAY_ENABLED=false), let the outbox drain, run
`tocsin relay partitions N`, then start the relays with RELAY_PARTITIONS=N.
"""

from __future__ import annotations

import asyncpg

from database.engine import plain_url

LOCK_KEY = 0x746F6373696E  # "tocsin": partition 0's advisory lock (the only one when P = 1)
MAX_PARTITIONS = 256


class PartitionsMismatch(RuntimeError):
    """The relay was started with a number of partitions other than the one in use."""


def lock_key(partition: int) -> int:
    """The advisory lock of one partition; partition 0 keeps the single relay's key."""
    return LOCK_KEY + partition


def partition_filter(column: str, partitions_param: str, partition_param: str) -> str:
    """SQL that holds for the rows of one partition (the user id column and two parameter
    placeholders: the number of partitions and the partition)."""
    return (
        f"(((hashtextextended({column}, 0) % {partitions_param}) + {partitions_param})"
        f" % {partitions_param}) = {partition_param}"
    )


_CLAIM = """
INSERT INTO notification.relay_partitions (partitions) VALUES ($1)
ON CONFLICT (singleton) DO NOTHING
"""


async def ensure_partitions(conn: asyncpg.Connection, partitions: int) -> None:
    """Record `partitions` if none is recorded yet; raise PartitionsMismatch if another is."""
    await conn.execute(_CLAIM, partitions)
    recorded = await conn.fetchval("SELECT partitions FROM notification.relay_partitions")
    if recorded != partitions:
        raise PartitionsMismatch(
            f"the event store is relayed with {recorded} partitions, this process has "
            f"RELAY_PARTITIONS={partitions}: start it with RELAY_PARTITIONS={recorded}, or "
            f"drain the outbox and run `tocsin relay partitions {partitions}`"
        )


async def check_partitions(database_url: str, partitions: int) -> None:
    """`ensure_partitions` on a connection of its own, for a process about to start relays:
    raises PartitionsMismatch so that the process refuses to start, saying why."""
    conn = await asyncpg.connect(plain_url(database_url), timeout=10)
    try:
        await ensure_partitions(conn, partitions)
    finally:
        await conn.close()


async def recorded_partitions(conn: asyncpg.Connection) -> int:
    """The number of partitions in use (1 before any relay ran)."""
    value = await conn.fetchval("SELECT partitions FROM notification.relay_partitions")
    return int(value) if value is not None else 1


async def partition_holders(conn: asyncpg.Connection, partitions: int) -> dict[int, str]:
    """Partition → the application name of the session that holds its relay lock now (from
    pg_locks; relays name theirs `tocsin-relay-<pid>`), for the partitions some session holds."""
    rows = await conn.fetch(
        """
        SELECT ((l.classid::bigint << 32) | l.objid::bigint) AS key,
               coalesce(a.application_name, '') AS holder
        FROM pg_locks AS l LEFT JOIN pg_stat_activity AS a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted AND l.mode = 'ExclusiveLock'
          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        """
    )
    holders = {int(row["key"]): str(row["holder"]) for row in rows}
    return {p: holders[lock_key(p)] for p in range(partitions) if lock_key(p) in holders}


_PENDING_BY_PARTITION = f"""
SELECT p AS partition, count(e.id) AS pending,
       extract(epoch FROM now() - min(e.occurred_at)) AS age
FROM generate_series(0, $1 - 1) AS p
LEFT JOIN notification.events AS e
  ON e.position IS NULL AND {partition_filter("e.user_id", "$1", "p")}
GROUP BY p ORDER BY p
"""


async def pending_by_partition(
    conn: asyncpg.Connection, partitions: int
) -> list[tuple[int, int, float | None]]:
    """(partition, events waiting, age in seconds of the oldest) for each partition."""
    rows = await conn.fetch(_PENDING_BY_PARTITION, partitions)
    return [
        (int(r["partition"]), int(r["pending"]), None if r["age"] is None else float(r["age"]))
        for r in rows
    ]


async def change_partitions(conn: asyncpg.Connection, partitions: int) -> None:
    """Record a new number of partitions. Refused (PartitionsMismatch) while a relay holds a
    partition lock or an event waits to be published: with either, two relays could publish
    one user's events out of order."""
    if not 1 <= partitions <= MAX_PARTITIONS:
        raise PartitionsMismatch(f"partitions must be between 1 and {MAX_PARTITIONS}")
    async with conn.transaction():
        current = await recorded_partitions(conn)
        held = sorted(await partition_holders(conn, max(current, partitions)))
        if held:
            raise PartitionsMismatch(
                f"relays hold partitions {held}: stop every relay "
                "(or set RELAY_ENABLED=false) first"
            )
        waiting = await conn.fetchval(
            "SELECT count(*) FROM notification.events WHERE position IS NULL"
        )
        if waiting:
            raise PartitionsMismatch(
                f"{waiting} events wait to be published: let the relays drain the outbox first"
            )
        await conn.execute(
            """
            INSERT INTO notification.relay_partitions (partitions) VALUES ($1)
            ON CONFLICT (singleton) DO UPDATE SET partitions = $1, changed_at = now()
            """,
            partitions,
        )
