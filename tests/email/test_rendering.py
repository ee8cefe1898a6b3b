"""Templates: the set chosen for a type and locale; unsubscribe tokens; SMTP error classes."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import aiosmtplib
import pytest

from contracts.events import EventEnvelope, EventType
from contracts.notifications import NotificationData, Priority, Recipient
from identity.unsubscribe import InvalidUnsubscribeToken, sign_unsubscribe, verify_unsubscribe
from services.email.composition import Composer, InvalidAddress, recipient_address
from services.email.rendering import Renderer
from services.email.smtp import SmtpFailure, SmtpPermanent, SmtpTransient, classify


def notification(**fields: object) -> NotificationData:
    base: dict[str, object] = {
        "id": "n-1",
        "type": "incident_assigned",
        "priority": Priority.NORMAL,
        "title": "INC-7 assigned",
        "created_at": datetime.now(UTC),
    }
    return NotificationData.model_validate({**base, **fields})


@pytest.mark.parametrize(
    ("notification_type", "locale", "expected"),
    [
        ("incident_assigned", None, "incident_assigned"),
        ("something_new", None, "default"),
        ("something_new", "fr-CA", "fr/default"),
        ("incident_assigned", "fr_FR", "fr/default"),
        ("incident_assigned", "de", "incident_assigned"),
        ("incident_assigned", "../../etc", "incident_assigned"),
    ],
)
def test_template_set_falls_back_from_locale_and_type_to_default(
    notification_type: str, locale: str | None, expected: str
) -> None:
    renderer = Renderer.create("https://app.test")
    assert renderer.template_set(notification_type, locale) == expected


def test_templates_dir_overrides_the_built_in_templates(tmp_path: Path) -> None:
    (tmp_path / "incident_assigned.html").write_text("<p>{{ notification.title }}</p>")
    (tmp_path / "incident_assigned.txt").write_text("custom {{ notification.title }}")
    (tmp_path / "incident_assigned.subject.txt").write_text("Custom: {{ notification.title }}\n")
    renderer = Renderer.create("https://app.test", str(tmp_path))
    rendered = renderer.render(
        notification(title="<i>x</i>"), Recipient(user_id="u"), "https://u.test"
    )
    assert rendered.subject == "Custom: <i>x</i>"
    assert rendered.text == "custom <i>x</i>"
    assert rendered.html == "<p>&lt;i&gt;x&lt;/i&gt;</p>"


@pytest.mark.parametrize(
    ("entity_url", "link"),
    [
        ("/incidents/7", "https://app.test/incidents/7"),
        ("https://app.test/x", "https://app.test/x"),
        ("https://other.test/x", "https://other.test/x"),
        ("https://evil.test/x", None),
        ("//evil.test/x", None),
        ("/\\evil.test/x", None),
        (" javascript:alert(1)", None),
        ("javascript:alert(1)", None),
        (None, None),
    ],
)
def test_only_safe_links_reach_the_email(entity_url: str | None, link: str | None) -> None:
    renderer = Renderer.create("https://app.test", link_hosts=frozenset({"other.test"}))
    assert renderer.absolute_link(entity_url) == link


def test_unsubscribe_token_round_trip_and_tampering() -> None:
    token = sign_unsubscribe("secret", "user.1", "incident_created")
    request = verify_unsubscribe("secret", token)
    assert (request.user_id, request.notification_type) == ("user.1", "incident_created")
    _payload, signature = token.split(".")
    other = sign_unsubscribe("secret", "user.2", "incident_created").split(".")[0]
    for bad in (f"{other}.{signature}", token + "A", "x.y", "", None, "a.b.c"):
        with pytest.raises(InvalidUnsubscribeToken):
            verify_unsubscribe("secret", bad)
    with pytest.raises(InvalidUnsubscribeToken):
        verify_unsubscribe("another-secret", token)


@pytest.mark.parametrize(
    ("error", "kind", "code"),
    [
        (aiosmtplib.SMTPDataError(451, "try later"), SmtpTransient, 451),
        (aiosmtplib.SMTPDataError(552, "too big"), SmtpPermanent, 552),
        (aiosmtplib.SMTPSenderRefused(553, "no", "a@b.test"), SmtpPermanent, 553),
        (
            aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(450, "busy", "x")]),
            SmtpTransient,
            450,
        ),
        (aiosmtplib.SMTPServerDisconnected("gone"), SmtpTransient, None),
        (aiosmtplib.SMTPConnectError("refused"), SmtpTransient, None),
        (aiosmtplib.SMTPTimeoutError("slow"), SmtpTransient, None),
        (ConnectionResetError(), SmtpTransient, None),
    ],
)
def test_smtp_errors_are_classified_once(
    error: Exception, kind: type[SmtpFailure], code: int | None
) -> None:
    failure = classify(error)
    assert type(failure) is kind
    assert failure.code == code


def test_composed_message_resists_header_injection_and_parses_cleanly() -> None:
    composer = Composer(
        Renderer.create("https://app.test"),
        "Tocsin Notifiés <n@tocsin.test>",
        "tocsin.test",
        "https://api.test",
        "secret",
    )
    envelope = EventEnvelope(
        event_id="e-1\r\nBcc: evil@attacker.test",
        type=EventType.NOTIFICATION_CREATED,
        occurred_at=datetime.now(UTC),
        user_id="u",
        data={},
    )
    outgoing = composer.compose(
        envelope,
        notification(id="n-1\nX-Evil: 1", title="Über\r\nBcc: evil@attacker.test", message="é=_"),
        Recipient(user_id="u", email="ana@example.test", name="Ana\r\nBcc: x@attacker.test"),
    )
    parsed = message_from_bytes(outgoing.data, policy=default_policy)
    assert parsed["Bcc"] is None and parsed["X-Evil"] is None
    assert str(parsed["Subject"]) == "Assigned to you: Über Bcc: evil@attacker.test"
    assert str(parsed["From"]) == "Tocsin Notifiés <n@tocsin.test>"
    assert parsed["Message-ID"] == outgoing.message_id
    assert [p.get_content_type() for p in parsed.walk()] == [
        "multipart/alternative",
        "text/plain",
        "text/html",
    ]
    assert all(not part.defects for part in parsed.walk())
    body = parsed.get_body(preferencelist=("plain",))
    assert body is not None and "é=_" in body.get_content()
    assert (outgoing.sender, outgoing.recipient) == ("n@tocsin.test", "ana@example.test")


@pytest.mark.parametrize("email", ["no-at-sign", "a@b", "x y@example.test", "é@example.test", ""])
def test_unusable_addresses_are_refused(email: str) -> None:
    with pytest.raises(InvalidAddress):
        recipient_address(Recipient(user_id="u", email=email))
