"""What the `tocsin` client raises: one base class, one subclass per thing a caller can act on."""

from __future__ import annotations


class TocsinError(Exception):
    """Base of every error the client raises."""


class InvalidPush(TocsinError, ValueError):
    """The push does not fit the realtime contract (event name, user id, data); nothing was
    sent. Event names are protocol server events or custom `namespace:name` values
    (contracts.realtime.CUSTOM_EVENT_PATTERN)."""


class PushFailed(TocsinError):
    """The broker could not be reached, nacked the push or did not confirm it in time; the
    push may not have been delivered. Safe to retry: a push is idempotent for the browser
    only if it carries a `seq`, so retry what the user can see twice without harm."""


class ApiError(TocsinError):
    """The REST API answered with an error: `status`, the stable `code` from its JSON body
    (`invalid_token`, `validation_error`, ...) and its message; or it could not be reached
    (`status` 0, `code` `unreachable`)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
