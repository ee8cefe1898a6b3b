"""Relay partitions: every user id falls in exactly one partition, always the same one, and a
process started with another number of partitions than the store's refuses to relay."""

from __future__ import annotations

from collections.abc import Iterator

import asyncpg
import pytest

from database.engine import plain_url
from database.partitions import (
    PartitionsMismatch,
    check_partitions,
    ensure_partitions,
    partition_filter,
)
from tests.support.databases import migrated_database

USERS = [f"user-{i}" for i in range(400)] + ["", "é✓", "a" * 300]


async def members(conn: asyncpg.Connection, partitions: int, partition: int) -> set[str]:
    rows = await conn.fetch(
        "SELECT u FROM unnest($1::text[]) AS t(u) WHERE " + partition_filter("u", "$2", "$3"),
        USERS,
        partitions,
        partition,
    )
    return {row["u"] for row in rows}


@pytest.mark.parametrize("partitions", [1, 2, 4, 7])
async def test_each_user_is_in_exactly_one_partition(database_url: str, partitions: int) -> None:
    conn = await asyncpg.connect(plain_url(database_url))
    try:
        parts = [await members(conn, partitions, p) for p in range(partitions)]
        again = [await members(conn, partitions, p) for p in range(partitions)]
    finally:
        await conn.close()
    assert parts == again
    assert set().union(*parts) == set(USERS)
    assert sum(len(part) for part in parts) == len(USERS)
    if partitions > 1:
        assert all(len(part) > len(USERS) / partitions / 2 for part in parts), "badly spread"


@pytest.fixture
def own_database(postgres_server_url: str) -> Iterator[str]:
    """A store of its own: the run's shared one is relayed with one partition."""
    with migrated_database(postgres_server_url, prefix="tocsin_partitions") as url:
        yield url


async def test_a_relay_with_another_number_of_partitions_is_refused(own_database: str) -> None:
    url = own_database
    await check_partitions(url, 4)
    await check_partitions(url, 4)
    with pytest.raises(PartitionsMismatch, match="RELAY_PARTITIONS=4"):
        await check_partitions(url, 2)
    conn = await asyncpg.connect(plain_url(url))
    try:
        with pytest.raises(PartitionsMismatch):
            await ensure_partitions(conn, 1)
    finally:
        await conn.close()
