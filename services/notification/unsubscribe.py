"""One-click unsubscribe (RFC 8058): a signed token from an email turns the email channel off
for one user and notification type.

The token is made by the email consumer with identity.unsubscribe and the shared
UNSUBSCRIBE_SECRET. A `critical` notification still goes by email (see preferences.py). The
route checks the link here, then calls `NotificationService.disable_email`.
"""

from __future__ import annotations

from identity.unsubscribe import InvalidUnsubscribeToken, Unsubscribe, verify_unsubscribe
from services.notification.errors import DomainError, UnsubscribeDisabled


class InvalidUnsubscribeLink(DomainError):
    """The link's token is missing, malformed or not signed with our secret."""

    code = "invalid_unsubscribe_token"


def check_link(secret: str | None, token: str | None) -> Unsubscribe:
    """Raises InvalidUnsubscribeLink, or UnsubscribeDisabled without a secret."""
    if not secret:
        raise UnsubscribeDisabled("unsubscribe links are not enabled here (no UNSUBSCRIBE_SECRET)")
    try:
        return verify_unsubscribe(secret, token)
    except InvalidUnsubscribeToken as exc:
        raise InvalidUnsubscribeLink(str(exc)) from None
