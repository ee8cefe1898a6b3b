"""The JWT_* environment variables of a service that verifies user tokens."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

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
