"""The environment variables of a service that verifies tokens: JWT_* and the RATE_LIMIT_* of
its API, and the rule that keeps a published or short secret out of production."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from identity.rate_limit import Rate
from identity.tokens import DEFAULT_MAX_LIFETIME_S, JwtSettings

MIN_SECRET_LENGTH = 32
# Secrets that were once printed in Tocsin's README, scripts or compose file: anyone can read
# them, so a production service refuses them whatever their length.
PUBLISHED_SECRETS = frozenset(
    {
        "tocsin-dev-secret-change-me",
        "tocsin-dev-unsubscribe-secret",
        "secret",
        "changeme",
        "change-me",
    }
)
RELAXED_ENVIRONMENTS = frozenset({"dev", "test"})


class WeakSecret(ValueError):
    """A secret a production service must not start with; the message names the variable
    (never the value) and says what to do, on one line."""


def refuse_weak_secrets(environment: str, secrets: dict[str, str | None]) -> None:
    """Raise WeakSecret when, outside `TOCSIN_ENV=dev|test`, one of `secrets` (variable name →
    value; unset values are skipped: whether a secret is required is each service's rule) is a
    published one or shorter than MIN_SECRET_LENGTH characters. Dev and test accept any."""
    if environment in RELAXED_ENVIRONMENTS:
        return
    for name, value in secrets.items():
        if value is None:
            continue
        if value.strip().lower() in PUBLISHED_SECRETS:
            raise WeakSecret(
                f"{name} is a published development value: set a random secret of at least "
                f"{MIN_SECRET_LENGTH} characters (TOCSIN_ENV={environment})"
            )
        if len(value) < MIN_SECRET_LENGTH:
            raise WeakSecret(
                f"{name} is shorter than {MIN_SECRET_LENGTH} characters: set a random secret "
                f"(for example `openssl rand -hex 32`), or TOCSIN_ENV=dev on a development "
                f"machine"
            )


def refuse_to_start_with_weak_secrets(environment: str, secrets: dict[str, str | None]) -> None:
    """For entrypoints: WeakSecret becomes one line on stderr and exit status 1."""
    try:
        refuse_weak_secrets(environment, secrets)
    except WeakSecret as error:
        raise SystemExit(f"refusing to start: {error}") from None


class JwtEnvSettings(BaseSettings):
    """Base for a service's Settings: JWT_SECRET (HS256) or JWT_PUBLIC_KEY (RS256), and the
    optional JWT_AUDIENCE / JWT_ISSUER, and how long a token may live (JWT_MAX_LIFETIME_S,
    JWT_REQUIRE_EXP), read as one `jwt` value; and TOCSIN_ENV: `production` (the default,
    which fails closed), `dev` (the local run) or `test`."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    tocsin_env: str = Field(default="production", alias="TOCSIN_ENV")

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
