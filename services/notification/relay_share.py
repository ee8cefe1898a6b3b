"""How many relay partitions one process holds: its fair share of them, within its cap.

Every process that runs relays holds a shared advisory lock (`MEMBER_KEY`) on a connection of
its own while it runs, so the number of relaying processes is the number of holders of that
lock in `pg_locks`, and a process that dies stops counting when its session ends. A process
may hold at most `ceil(P / processes)` partitions (and never more than RELAY_MAX_PARTITIONS):

- when a second process starts, the first sees two members and gives up its excess
  partitions (the highest-numbered it holds), each between two batches; the newcomer's relays,
  which poll the partition locks anyway, take them;
- when a process stops or dies, the others see one member fewer and take its partitions.

The partition locks still decide who relays: a share only says whether a relay may try for
its lock or must let it go, so a wrong count for a moment costs a moved partition, never two
relays on one partition.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from dataclasses import dataclass, field

import asyncpg

from database.engine import plain_url
from database.partitions import LOCK_KEY, MAX_PARTITIONS

logger = logging.getLogger(__name__)

MEMBER_KEY = LOCK_KEY + MAX_PARTITIONS
"""Held shared by every relaying process: one key past the last partition's lock."""

_MEMBERS = """
SELECT count(*) FROM pg_locks
WHERE locktype = 'advisory' AND objsubid = 1 AND granted AND mode = 'ShareLock'
  AND ((classid::bigint << 32) | objid::bigint) = $1
  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""


RELAY_APPLICATION_PREFIX = "tocsin-relay-"


def relay_session_settings() -> dict[str, str]:
    """The relay's Postgres sessions are named after the process (`tocsin-relay-<pid>`), so
    `pg_stat_activity` and `tocsin status` can say which process holds which partition."""
    return {"application_name": f"{RELAY_APPLICATION_PREFIX}{os.getpid()}"}


@dataclass
class RelayShare:
    """The partitions one process's relays hold, and how many they may hold."""

    partitions: int
    cap: int | None = None
    members: int = 1
    held: set[int] = field(default_factory=set)

    @property
    def limit(self) -> int:
        fair = -(-self.partitions // max(self.members, 1))
        return min(fair, self.cap) if self.cap is not None else fair

    def reserve(self, partition: int) -> bool:
        """Claim room for `partition` before trying its lock; False when the share is full.
        (Claiming first keeps two relays of this process from both passing the check while
        they wait for their locks.)"""
        if partition in self.held:
            return True
        if len(self.held) >= self.limit:
            return False
        self.held.add(partition)
        return True

    def release(self, partition: int) -> None:
        self.held.discard(partition)

    def must_yield(self, partition: int) -> bool:
        """Whether `partition` is one this process holds beyond its share (the highest ones)."""
        excess = len(self.held) - self.limit
        return excess > 0 and partition in sorted(self.held)[-excess:]


async def count_members(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval(_MEMBERS, MEMBER_KEY))


async def keep_membership(share: RelayShare, database_url: str, interval_s: float) -> None:
    """Hold this process's membership and refresh `share.members` every `interval_s` until
    cancelled; reconnects after a database outage (the relays themselves retry meanwhile)."""
    backoff = 0.5
    while True:
        conn: asyncpg.Connection | None = None
        try:
            conn = await asyncpg.connect(
                plain_url(database_url), timeout=10, server_settings=relay_session_settings()
            )
            await conn.execute("SELECT pg_advisory_lock_shared($1)", MEMBER_KEY)
            backoff = 0.5
            while True:
                members = await count_members(conn)
                if members != share.members:
                    logger.info(
                        "relaying processes changed",
                        extra={"members": members, "share": -(-share.partitions // members)},
                    )
                share.members = members
                await asyncio.sleep(interval_s)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.warning("relay membership lost, retrying: %r", exc)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)
        finally:
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.terminate()
