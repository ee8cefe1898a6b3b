"""User ids of a test's own, so tests sharing a database, a broker or a Redis never see each
other's users, notifications or presence."""

from __future__ import annotations

import uuid


def new_user(prefix: str = "user") -> str:
    """A user id no other test uses: `<prefix>-<12 hex digits>`; the prefix may name the test."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"
