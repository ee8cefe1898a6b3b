"""JWT verification and dev-token minting, shared by the services that authenticate users."""

from identity.tokens import (
    Claims,
    InvalidClaims,
    InvalidToken,
    JwtSettings,
    MissingToken,
    TokenError,
    mint_token,
    verify_token,
)

__all__ = [
    "Claims",
    "InvalidClaims",
    "InvalidToken",
    "JwtSettings",
    "MissingToken",
    "TokenError",
    "mint_token",
    "verify_token",
]
