"""VAPID (RFC 8292): the application server's key pair and the signed `Authorization` header.

The private key is the base64url of its raw 32 bytes (the form `tocsin push vapid-keys` prints
and most Web Push libraries accept); the public key, handed to browsers as
`applicationServerKey`, is the base64url of the uncompressed P-256 point. Signing is
py-vapid's; a signed header is reused for an hour per push service origin.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02

TOKEN_LIFETIME_S = 12 * 3600
"""`exp` of each JWT (RFC 8292 allows at most 24 hours)."""
REUSE_S = 3600


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def generate_keys() -> tuple[str, str]:
    """A new (private, public) pair, both base64url."""
    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_numbers().private_value.to_bytes(32, "big")
    return b64url(private), public_key_of(key)


def public_key_of(key: ec.EllipticCurvePrivateKey) -> str:
    return b64url(
        key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    )


class InvalidVapidKey(ValueError):
    """PUSH_VAPID_PRIVATE_KEY is not a base64url raw P-256 private key."""


@dataclass
class VapidSigner:
    vapid: Vapid02
    subject: str
    public_key: str
    _cache: dict[str, tuple[float, str]] = field(default_factory=dict, repr=False)

    @classmethod
    def from_private_key(cls, private_key: str, subject: str) -> VapidSigner:
        """Raises InvalidVapidKey."""
        try:
            vapid = Vapid02.from_raw(private_key.strip().encode())
        except Exception as exc:
            raise InvalidVapidKey("PUSH_VAPID_PRIVATE_KEY is not a raw P-256 key") from exc
        if not subject.startswith(("mailto:", "https:")):
            raise InvalidVapidKey("PUSH_VAPID_SUBJECT must be a mailto: or https: URL")
        return cls(vapid, subject, public_key_of(vapid.private_key))

    def authorization(self, endpoint: str) -> str:
        """`vapid t=<JWT>,k=<public key>` for the push service that serves `endpoint`."""
        parts = urlsplit(endpoint)
        audience = f"{parts.scheme}://{parts.netloc}"
        now = time.time()
        cached = self._cache.get(audience)
        if cached is not None and cached[0] > now:
            return cached[1]
        claims = {"aud": audience, "sub": self.subject, "exp": int(now) + TOKEN_LIFETIME_S}
        header: str = self.vapid.sign(claims)["Authorization"]
        self._cache[audience] = (now + REUSE_S, header)
        return header
