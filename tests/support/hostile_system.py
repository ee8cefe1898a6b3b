"""The whole system configured as in production, for hostile-input tests: RS256 tokens (public
key only on the services), an audience and an issuer, one browser origin, and a webhook
service that refuses private addresses."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from identity import JwtSettings, mint_token
from services.realtime.catchup import EVENTS_READ_SCOPE
from tests.support.system import System

AUDIENCE = "tocsin"
ISSUER = "https://id.tocsin.test"
APP_ORIGIN = "https://app.tocsin.test"


def rsa_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def hostile(database_url: str, amqp_url: str, jwt_keys: JwtSettings, **options: Any) -> System:
    """A system configured as in production (see the module docstring), not started; `options`
    are System fields that replace these."""
    defaults: dict[str, Any] = {
        "jwt": jwt_keys,
        "origins": APP_ORIGIN,
        "email_enabled": False,
        "webhook_env": {"WEBHOOK_ALLOWED_PRIVATE_TARGETS": ""},
        "realtime_env": {
            "MAX_CONNECTIONS_PER_USER": "5",
            # Under RS256 the realtime service cannot mint its own catch-up token.
            "NOTIFICATION_API_TOKEN": mint_token(
                jwt_keys, "realtime", scopes=[EVENTS_READ_SCOPE], ttl_s=3600
            ),
        },
    }
    return System(database_url, amqp_url, **{**defaults, **options})
