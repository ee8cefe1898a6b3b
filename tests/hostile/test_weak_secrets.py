"""A careless operator: a service started outside dev with a published or short secret refuses
to start and says why on one line, without echoing the secret."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from identity.settings import MIN_SECRET_LENGTH, WeakSecret, refuse_weak_secrets
from services.email.settings import Settings as EmailSettings
from services.notification.settings import Settings as NotificationSettings
from services.realtime.settings import Settings as RealtimeSettings
from services.webhook.settings import Settings as WebhookSettings
from tests.support.processes import REPO_ROOT

PUBLISHED = "tocsin-dev-secret-change-me"
SHORT = "s3cr3t-but-only-24-chars"
STRONG = "k" * MIN_SECRET_LENGTH


def start(module: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("JWT_", "TOCSIN_ENV"))}
    return subprocess.run(
        [sys.executable, "-m", module],
        env={**base, "PORT": "1", "UNSUBSCRIBE_SECRET": STRONG, **env},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("module", ["services.notification", "services.realtime",
                                    "services.webhook", "services.demo"])  # fmt: skip
@pytest.mark.parametrize("secret", [PUBLISHED, SHORT])
def test_a_production_service_refuses_to_start_with_a_weak_jwt_secret(
    module: str, secret: str
) -> None:
    done = start(module, {"JWT_SECRET": secret})
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines == [lines[0]] and lines[0].startswith("refusing to start: JWT_SECRET")
    assert secret not in done.stderr


@pytest.mark.parametrize("module", ["services.notification", "services.email"])
def test_a_production_service_refuses_the_published_unsubscribe_secret(module: str) -> None:
    done = start(
        module, {"JWT_SECRET": STRONG, "UNSUBSCRIBE_SECRET": "tocsin-dev-unsubscribe-secret"}
    )
    assert done.returncode == 1
    assert done.stderr.strip().startswith("refusing to start: UNSUBSCRIBE_SECRET")


def test_dev_and_test_accept_short_secrets_and_production_a_long_random_one() -> None:
    refuse_weak_secrets("dev", {"JWT_SECRET": SHORT})
    refuse_weak_secrets("test", {"JWT_SECRET": PUBLISHED})
    refuse_weak_secrets("production", {"JWT_SECRET": STRONG, "JWT_PUBLIC_KEY": None})
    with pytest.raises(WeakSecret):
        refuse_weak_secrets("staging", {"JWT_SECRET": SHORT})


def test_services_listen_on_loopback_unless_told_otherwise() -> None:
    hosts = {
        "notification": NotificationSettings(jwt_secret=STRONG).host,
        "realtime": RealtimeSettings(jwt_secret=STRONG).host,
        "webhook": WebhookSettings(jwt_secret=STRONG).host,
        "email": EmailSettings(unsubscribe_secret=STRONG).host,
    }
    assert hosts == dict.fromkeys(hosts, "127.0.0.1")
