"""One-click unsubscribe (RFC 8058): a signed token from an email turns the email channel off
for one user and notification type.

The token is made by the email consumer with identity.unsubscribe and the shared
UNSUBSCRIBE_SECRET. A `critical` notification still goes by email (see preferences.py).
"""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert

from contracts.notifications import Channel
from identity.unsubscribe import InvalidUnsubscribeToken, Unsubscribe, verify_unsubscribe
from services.notification import tables
from services.notification.errors import DomainError, UnsubscribeDisabled
from services.notification.service import NotificationService


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


async def unsubscribe_email(
    service: NotificationService, secret: str | None, token: str | None
) -> Unsubscribe:
    """Turn email off for the token's user and type (idempotent); raises
    InvalidUnsubscribeLink."""
    request = check_link(secret, token)
    preference = tables.preferences
    statement = insert(preference).values(
        user_id=request.user_id,
        type=request.notification_type,
        channel=Channel.EMAIL.value,
        enabled=False,
    )
    async with service.engine.begin() as connection:
        await connection.execute(
            statement.on_conflict_do_update(
                index_elements=[preference.c.user_id, preference.c.type, preference.c.channel],
                set_={"enabled": False},
            )
        )
    return request
