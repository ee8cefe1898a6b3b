"""The JWT_* environment variables of a service that verifies user tokens."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from identity.tokens import DEFAULT_MAX_LIFETIME_S, JwtSettings


class JwtEnvSettings(BaseSettings):
    """Base for a service's Settings: JWT_SECRET (HS256) or JWT_PUBLIC_KEY (RS256), and the
    optional JWT_AUDIENCE / JWT_ISSUER, and how long a token may live (JWT_MAX_LIFETIME_S,
    JWT_REQUIRE_EXP), read as one `jwt` value."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    jwt_secret: str | None = Field(default=None, alias="JWT_SECRET")
    jwt_public_key: str | None = Field(default=None, alias="JWT_PUBLIC_KEY")
    jwt_audience: str | None = Field(default=None, alias="JWT_AUDIENCE")
    jwt_issuer: str | None = Field(default=None, alias="JWT_ISSUER")
    jwt_max_lifetime_s: int = Field(
        default=DEFAULT_MAX_LIFETIME_S,
        ge=0,
        alias="JWT_MAX_LIFETIME_S",
        description="Tokens whose `exp` is further away than this are refused; 0 lifts the bound.",
    )
    jwt_require_exp: bool = Field(
        default=True,
        alias="JWT_REQUIRE_EXP",
        description="Refuse tokens without `exp`; false accepts them (they never expire).",
    )

    @property
    def jwt(self) -> JwtSettings:
        return JwtSettings(
            secret=self.jwt_secret,
            public_key=self.jwt_public_key,
            audience=self.jwt_audience,
            issuer=self.jwt_issuer,
            max_lifetime_s=self.jwt_max_lifetime_s or None,
            require_exp=self.jwt_require_exp,
        )
