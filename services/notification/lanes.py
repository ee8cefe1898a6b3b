"""The relay's two lanes: urgent events go out before a backlog of ordinary ones.

An event is *urgent* when it is a `notification.created` whose notification's priority is
one of the relay's urgent priorities (setting RELAY_URGENT_PRIORITIES, `critical` by
default). Every other unpublished event is in the *normal* lane. The relay
(services/notification/outbox.py) reads each batch urgent first, keeping each user's order:
see its module docstring.

The lane of an event is decided where it is read, from its stored data, so the write path
stores nothing for it and changing the setting reclassifies the events already waiting.
Migration 0007 indexes what the read needs: the unpublished `notification.created` events
by priority, and the unpublished events by user.
"""

from __future__ import annotations

import asyncpg

from contracts.notifications import Priority

DEFAULT_URGENT_PRIORITIES = (Priority.CRITICAL.value,)

PRIORITY = "(data->'notification'->>'priority')"
"""The priority of a `notification.created` event, as migration 0007 indexes it."""


def urgent_condition(priorities_param: str, table: str = "") -> str:
    """SQL that holds for the urgent events (a text[] parameter: the urgent priorities);
    `table`: the alias to qualify the columns with."""
    prefix = f"{table}." if table else ""
    return (
        f"{prefix}type = 'notification.created' "
        f"AND ({prefix}data->'notification'->>'priority') = ANY({priorities_param}::text[])"
    )


def parse_urgent_priorities(value: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The urgent priorities from a comma-separated list (empty: no urgent lane, every event
    in insertion order). Raises ValueError naming an unknown priority."""
    items = value.split(",") if isinstance(value, str) else list(value)
    known = [p.value for p in Priority]
    priorities: list[str] = []
    for item in (i.strip().lower() for i in items):
        if not item:
            continue
        if item not in known:
            raise ValueError(
                f"unknown priority {item!r} in RELAY_URGENT_PRIORITIES: use a comma-separated "
                f"list of {', '.join(known)} (or nothing: no urgent lane)"
            )
        if item not in priorities:
            priorities.append(item)
    return tuple(priorities)


_OLDEST_WAITING = f"""
SELECT
    (SELECT extract(epoch FROM now() - min(occurred_at)) FROM notification.events
     WHERE position IS NULL AND {urgent_condition("$1")}) AS urgent,
    (SELECT extract(epoch FROM now() - occurred_at) FROM notification.events
     WHERE position IS NULL AND NOT coalesce({urgent_condition("$1")}, false)
     ORDER BY id LIMIT 1) AS normal
"""


async def oldest_waiting(
    conn: asyncpg.Connection, urgent_priorities: tuple[str, ...]
) -> tuple[float | None, float | None]:
    """(urgent, normal): the age in seconds of each lane's oldest unpublished event (the
    normal lane's: its first in insertion order), None for an empty lane."""
    row = await conn.fetchrow(_OLDEST_WAITING, list(urgent_priorities))
    assert row is not None
    return (
        None if row["urgent"] is None else float(row["urgent"]),
        None if row["normal"] is None else float(row["normal"]),
    )
