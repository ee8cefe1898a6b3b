"""The email consumer refuses to start without its own UNSUBSCRIBE_SECRET: with a built-in
default anyone could forge the unsubscribe link of any user."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from pydantic import ValidationError

from services.email.settings import Settings


def test_settings_without_an_unsubscribe_secret_or_with_a_short_one_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("UNSUBSCRIBE_SECRET", raising=False)
    with pytest.raises(ValidationError, match="unsubscribe_secret"):
        Settings()
    with pytest.raises(ValidationError, match="at least 16 characters"):
        Settings(unsubscribe_secret="short")
    assert Settings(unsubscribe_secret="a-long-enough-secret").unsubscribe_secret


def test_the_process_exits_with_a_message_naming_the_missing_secret() -> None:
    env = {k: v for k, v in os.environ.items() if k != "UNSUBSCRIBE_SECRET"}
    done = subprocess.run(
        [sys.executable, "-m", "services.email"],
        env={**env, "PORT": "0"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "unsubscribe_secret" in done.stderr
