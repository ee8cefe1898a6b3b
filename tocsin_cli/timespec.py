"""Times on the command line: ISO-8601 (`2026-11-26T17:00`, UTC when no offset) or a duration
back from now (`90s`, `15m`, `2h`, `1d`)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from tocsin_cli.errors import CliError

_AGO = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_time(value: str | None, *, now: datetime | None = None) -> datetime | None:
    if value is None:
        return None
    text = value.strip()
    match = _AGO.match(text)
    if match:
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
        return (now or datetime.now(UTC)) - timedelta(seconds=seconds)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CliError(
            f"cannot read time {value!r}: use ISO-8601 (2026-11-26T17:00:00Z) or 15m / 2h / 1d"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
