"""The environment variables of a service that verifies tokens: JWT_* and the RATE_LIMIT_*
of its API."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from identity.rate_limit import Rate
from identity.tokens import JwtSettings


class JwtEnvSettings(BaseSettings):
    """Base for a service's Settings: JWT_SECRET (HS256) or JWT_PUBLIC_KEY (RS256), and the
    optional JWT_AUDIENCE / JWT_ISSUER, read as one `jwt` value."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    jwt_secret: str | None = Field(default=None, alias="JWT_SECRET")
    jwt_public_key: str | None = Field(default=None, alias="JWT_PUBLIC_KEY")
    jwt_audience: str | None = Field(default=None, alias="JWT_AUDIENCE")
    jwt_issuer: str | None = Field(default=None, alias="JWT_ISSUER")

    @property
    def jwt(self) -> JwtSettings:
        return JwtSettings(
            secret=self.jwt_secret,
            public_key=self.jwt_public_key,
            audience=self.jwt_audience,
            issuer=self.jwt_issuer,
        )


class RateLimitEnvSettings(BaseSettings):
    """Base for the Settings of a service with an API: RATE_LIMIT_USER_PER_S / _BURST and
    RATE_LIMIT_SERVICE_PER_S / _BURST, read as `user_rate` and `service_rate`."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    rate_limit_user_per_s: float = Field(
        default=20.0,
        ge=0,
        description="Requests a second per person (a token without a service scope), refilled "
        "continuously; 0 turns the limit off. Over it: 429 `rate_limited` with Retry-After.",
    )
    rate_limit_user_burst: int = Field(
        default=60, ge=1, description="Requests a person may send at once before the rate applies."
    )
    rate_limit_service_per_s: float = Field(
        default=0.0,
        ge=0,
        description="Requests a second per calling service (notifications:write, events:read, "
        "webhooks:admin or notifications:admin); 0, the default, turns the limit off.",
    )
    rate_limit_service_burst: int = Field(
        default=1000, ge=1, description="Requests a service may send at once."
    )

    @property
    def user_rate(self) -> Rate:
        return Rate(self.rate_limit_user_per_s, self.rate_limit_user_burst)

    @property
    def service_rate(self) -> Rate:
        return Rate(self.rate_limit_service_per_s, self.rate_limit_service_burst)
