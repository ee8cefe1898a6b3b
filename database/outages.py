"""Is the database down? One answer for every caller: the batchers (fail a whole batch at
once instead of retrying it statement by statement) and the HTTP error mapping (503
`database_unavailable` instead of 500)."""

from __future__ import annotations

from sqlalchemy import exc as sa_exc

OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    sa_exc.TimeoutError,
    sa_exc.InterfaceError,
    sa_exc.OperationalError,
    sa_exc.DisconnectionError,
)
"""Errors that mean the database could not be reached or did not answer in time."""


def is_outage(error: BaseException) -> bool:
    """True when the database could not be reached (refused or lost connection, timeout,
    exhausted pool), as opposed to refusing one statement (a constraint, a deadlock, a
    syntax error), which is the statement's own failure."""
    if isinstance(error, OUTAGE_ERRORS):
        return True
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    cause = error.__cause__ or error.__context__
    return isinstance(cause, OSError | TimeoutError)
