"""Builds the MIME message for one notification: headers that make it recognisable and
unsubscribable, a plain-text part and an HTML part, as the bytes handed to SMTP.

The bytes are written by `mime.py`: non-ASCII names and subjects become RFC 2047 encoded
words; both parts are UTF-8, quoted-printable.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from email.utils import format_datetime, parseaddr
from urllib.parse import quote, urlencode

from contracts.events import EventEnvelope
from contracts.notifications import NotificationData, Recipient
from identity.unsubscribe import sign_unsubscribe
from services.email import mime
from services.email.rendering import Renderer

_MESSAGE_ID_NAMESPACE = uuid.UUID("9d0f6a3e-5c3b-4d7e-9a51-2f1c8e4b7a10")
_ADDRESS = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


class InvalidAddress(Exception):
    """The recipient's address cannot be put in a To header (not a plain ASCII address)."""


@dataclass(frozen=True)
class OutgoingEmail:
    """What goes over SMTP: envelope sender and recipient, and the message itself."""

    sender: str
    recipient: str
    message_id: str
    data: bytes


@dataclass(frozen=True)
class Composer:
    renderer: Renderer
    sender: str
    message_id_domain: str
    public_api_url: str
    unsubscribe_secret: str
    unsubscribe_mailto: str | None = None

    def unsubscribe_url(self, user_id: str, notification_type: str) -> str:
        token = sign_unsubscribe(self.unsubscribe_secret, user_id, notification_type)
        return f"{self.public_api_url.rstrip('/')}/api/v1/unsubscribe?{urlencode({'token': token})}"

    def compose(
        self, envelope: EventEnvelope, notification: NotificationData, recipient: Recipient
    ) -> OutgoingEmail:
        """Raises InvalidAddress for an unusable address and TemplateFailure for a broken
        template; both are permanent."""
        address = recipient_address(recipient)
        unsubscribe = self.unsubscribe_url(recipient.user_id, notification.type)
        rendered = self.renderer.render(notification, recipient, unsubscribe)
        sender_name, sender_address = parseaddr(self.sender)
        identifier = message_id(envelope.event_id, self.message_id_domain)
        unsubscribe_targets = [f"<{unsubscribe}>"]
        if self.unsubscribe_mailto:
            subject = quote(f"unsubscribe {notification.type}")
            unsubscribe_targets.append(f"<mailto:{self.unsubscribe_mailto}?subject={subject}>")
        headers = [
            mime.address("From", sender_name, sender_address),
            mime.address("To", recipient.name, address),
            mime.header("Subject", rendered.subject),
            mime.header("Date", format_datetime(envelope.occurred_at)),
            mime.header("Message-ID", identifier),
            mime.header("List-Unsubscribe", ", ".join(unsubscribe_targets)),
            b"List-Unsubscribe-Post: List-Unsubscribe=One-Click",
            b"Auto-Submitted: auto-generated",
            mime.header("X-Tocsin-Event-Id", envelope.event_id),
            mime.header("X-Tocsin-Notification-Id", notification.id),
            mime.header("X-Tocsin-Type", notification.type),
        ]
        data = mime.alternative(headers, rendered.text, rendered.html)
        return OutgoingEmail(sender_address, address, identifier, data)


def message_id(event_id: str, domain: str) -> str:
    """The same event always gets the same Message-ID, so a receiver can spot a duplicate."""
    return f"<{uuid.uuid5(_MESSAGE_ID_NAMESPACE, event_id)}@{domain}>"


def domain_of(address: str) -> str:
    _, addr = parseaddr(address)
    return addr.rpartition("@")[2] or "tocsin.localhost"


def recipient_address(recipient: Recipient) -> str:
    email = (recipient.email or "").strip()
    if not _ADDRESS.match(email) or ".." in email or email.startswith("."):
        raise InvalidAddress(f"unusable email address {email!r}")
    return email
