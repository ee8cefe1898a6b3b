"""Settings that would make the service unsafe are refused at start, with a clear message."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.notification.settings import Settings

PUBLIC_KEY = "-----BEGIN PUBLIC KEY-----\nnot-secret\n-----END PUBLIC KEY-----"


def test_rs256_without_a_cursor_secret_is_refused() -> None:
    with pytest.raises(ValidationError, match="CURSOR_SECRET"):
        Settings(jwt_public_key=PUBLIC_KEY)


def test_cursors_are_never_signed_with_the_public_key() -> None:
    settings = Settings(jwt_public_key=PUBLIC_KEY, cursor_secret="s3cret")
    assert settings.cursor_key == b"s3cret"


def test_hs256_signs_cursors_with_the_jwt_secret_by_default() -> None:
    assert Settings(jwt_secret="hs-secret").cursor_key == b"hs-secret"


def test_the_relay_alone_needs_no_secret() -> None:
    Settings()  # `python -m services.notification relay` reads these settings


def test_serving_the_api_without_any_key_is_refused() -> None:
    with pytest.raises(ValueError, match="JWT_SECRET"):
        _ = Settings().cursor_key


def test_relay_urgent_priorities_are_checked_and_may_be_empty() -> None:
    base = {"database_url": "postgresql://x/y", "jwt_secret": "s"}
    assert Settings(**base).urgent_priorities == ("critical",)
    assert Settings(**base, relay_urgent_priorities="critical, HIGH").urgent_priorities == (
        "critical",
        "high",
    )
    assert Settings(**base, relay_urgent_priorities="").urgent_priorities == ()
    with pytest.raises(ValueError, match="unknown priority 'urgent'"):
        Settings(**base, relay_urgent_priorities="critical,urgent")
