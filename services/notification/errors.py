"""Domain errors of the notification service. Each has a stable `code` shown to clients;
the HTTP edge (`http_errors.py`) maps each class to a status once."""

from __future__ import annotations


class DomainError(Exception):
    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotificationNotFound(DomainError):
    """No notification with this id belongs to the caller (someone else's is "not found")."""

    code = "notification_not_found"


class IncidentNotFound(DomainError):
    """No incident with this id that the caller may see (someone else's is "not found")."""

    code = "incident_not_found"


class IdempotencyKeyReused(DomainError):
    """The idempotency key was already used by this caller with a different request body."""

    code = "idempotency_key_reused"


class IdempotencyKeyInProgress(DomainError):
    """A request with the same idempotency key is being processed right now."""

    code = "idempotency_key_in_progress"


class InvalidCursor(DomainError):
    """The pagination cursor was not issued by this service or was tampered with."""

    code = "invalid_cursor"


class InvalidPreference(DomainError):
    code = "invalid_preference"


class UnsubscribeDisabled(DomainError):
    """This deployment has no UNSUBSCRIBE_SECRET: no link can be checked."""

    code = "unsubscribe_disabled"
