"""Builds the MIME message for one notification: headers that make it recognisable and
unsubscribable, a plain-text part and an HTML part."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, parseaddr
from urllib.parse import quote, urlencode

from contracts.events import EventEnvelope
from contracts.notifications import NotificationData, Recipient
from identity.unsubscribe import sign_unsubscribe
from services.email.rendering import Renderer

# Long headers (the List-Unsubscribe link) stay plain text instead of RFC 2047 encoded words.
MESSAGE_POLICY = policy.default.clone(max_line_length=998)
_MESSAGE_ID_NAMESPACE = uuid.UUID("9d0f6a3e-5c3b-4d7e-9a51-2f1c8e4b7a10")


class InvalidAddress(Exception):
    """The recipient's address cannot be put in a To header."""


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
    ) -> EmailMessage:
        """Raises InvalidAddress for an unusable address and TemplateFailure for a broken
        template; both are permanent."""
        unsubscribe = self.unsubscribe_url(recipient.user_id, notification.type)
        rendered = self.renderer.render(notification, recipient, unsubscribe)
        message = EmailMessage(policy=MESSAGE_POLICY)
        message["From"] = self.sender
        message["To"] = recipient_address(recipient)
        message["Subject"] = rendered.subject
        message["Date"] = format_datetime(envelope.occurred_at)
        message["Message-ID"] = message_id(envelope.event_id, self.message_id_domain)
        unsubscribe_targets = [f"<{unsubscribe}>"]
        if self.unsubscribe_mailto:
            subject = quote(f"unsubscribe {notification.type}")
            unsubscribe_targets.append(f"<mailto:{self.unsubscribe_mailto}?subject={subject}>")
        message["List-Unsubscribe"] = ", ".join(unsubscribe_targets)
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        message["Auto-Submitted"] = "auto-generated"
        message["X-Tocsin-Event-Id"] = envelope.event_id
        message["X-Tocsin-Notification-Id"] = notification.id
        message["X-Tocsin-Type"] = notification.type
        message.set_content(rendered.text)
        message.add_alternative(rendered.html, subtype="html", cte="quoted-printable")
        return message


def message_id(event_id: str, domain: str) -> str:
    """The same event always gets the same Message-ID, so a receiver can spot a duplicate."""
    return f"<{uuid.uuid5(_MESSAGE_ID_NAMESPACE, event_id)}@{domain}>"


def domain_of(address: str) -> str:
    _, addr = parseaddr(address)
    return addr.rpartition("@")[2] or "tocsin.localhost"


def recipient_address(recipient: Recipient) -> Address:
    email = (recipient.email or "").strip()
    if not email or any(c in email for c in '\r\n<>,;"') or email.count("@") != 1:
        raise InvalidAddress(f"unusable email address {email!r}")
    parsed = getaddresses([email])
    if len(parsed) != 1 or parsed[0][1] != email:
        raise InvalidAddress(f"unusable email address {email!r}")
    local, _, domain = email.partition("@")
    if not local or not domain:
        raise InvalidAddress(f"unusable email address {email!r}")
    name = " ".join((recipient.name or "").split())
    try:
        return Address(display_name=name, username=local, domain=domain)
    except (ValueError, IndexError) as exc:
        raise InvalidAddress(f"unusable email address {email!r}") from exc
