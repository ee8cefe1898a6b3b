"""Which strings Tocsin stores: every part refuses the same ones where they enter.

Postgres `text` cannot hold NUL, and a lone UTF-16 surrogate (`"\\ud800"` in JSON) cannot be
encoded as UTF-8 for the database, a log line or a broker message. Both are refused at the
edge (422, or close 4003 for a token's `sub`), never discovered in the database (500).
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable(value: str) -> str | None:
    """Why `value` cannot be stored (a short reason), or None when it can."""
    found = _UNSTORABLE.search(value)
    if found is None:
        return None
    return (
        "must not contain NUL characters"
        if found.group() == "\x00"
        else ("must not contain lone surrogates (invalid Unicode)")
    )


def storable(value: str) -> str:
    """`value` unchanged; raises ValueError (a 422 under pydantic) when it cannot be stored."""
    reason = unstorable(value)
    if reason is not None:
        raise ValueError(reason)
    return value


StorableText = Annotated[str, AfterValidator(storable)]
"""A string without NUL characters or lone surrogates."""
