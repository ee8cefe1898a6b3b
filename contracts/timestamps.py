"""The one timestamp format of every surface (REST bodies, socket frames, broker events,
webhook payloads): RFC 3339 in UTC with `Z`, as the feature description's examples write
`"2024-01-31T12:00:00Z"` (fractions of a second when the moment has them)."""

from __future__ import annotations

from datetime import UTC, datetime


def rfc3339(moment: datetime) -> str:
    """`moment` in UTC as `YYYY-MM-DDTHH:MM:SS[.ffffff]Z`. Raises ValueError for a naive
    datetime: a moment without a zone is a bug, not something to guess."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: give it a time zone")
    return moment.astimezone(UTC).isoformat().removesuffix("+00:00") + "Z"
