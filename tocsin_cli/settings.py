"""What the CLI talks to, from environment variables (the same names the services use)."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from identity import JwtSettings
from identity.tokens import DEFAULT_MAX_LIFETIME_S
from messaging.broker_settings import BrokerSettings
from services.notification.lanes import DEFAULT_URGENT_PRIORITIES, parse_urgent_priorities

DEFAULT_SERVICE_URLS = (
    "notification=http://127.0.0.1:8010,"
    "realtime=http://127.0.0.1:8011,"
    "email=http://127.0.0.1:8012,"
    "webhook=http://127.0.0.1:8013,"
    "push=http://127.0.0.1:8015"
)


class CliSettings(BrokerSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    database_url: str = "postgresql://postgres@127.0.0.1:5432/tocsin"
    tocsin_api_url: str = "http://localhost:8000"
    jwt_secret: str | None = None
    jwt_public_key: str | None = None
    jwt_private_key: str | None = None
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    jwt_max_lifetime_s: int = Field(
        default=DEFAULT_MAX_LIFETIME_S,
        ge=0,
        description="The services' JWT_MAX_LIFETIME_S: `token --ttl` may not exceed it (0: any).",
    )
    tocsin_service_urls: str = Field(
        default=DEFAULT_SERVICE_URLS,
        description="name=base_url pairs, comma-separated; `status` asks each for /readyz.",
    )
    tocsin_realtime_urls: str = Field(
        default="http://127.0.0.1:8011",
        description="Base URLs of the realtime instances, comma-separated; `status` reads "
        "their /metrics for connected sockets.",
    )
    tocsin_max_relay_lag_s: float = 30.0
    relay_urgent_priorities: str = Field(
        default=",".join(DEFAULT_URGENT_PRIORITIES),
        description="The relay's RELAY_URGENT_PRIORITIES: `status` shows each lane's oldest "
        "waiting event with the same lanes the relay uses.",
    )

    @field_validator("relay_urgent_priorities")
    @classmethod
    def _known_priorities(cls, value: str) -> str:
        return ",".join(parse_urgent_priorities(value))

    # One password per broker user of `tocsin topology users` (messaging.broker_users).
    tocsin_amqp_password_notification: str | None = None
    tocsin_amqp_password_realtime: str | None = None
    tocsin_amqp_password_email: str | None = None
    tocsin_amqp_password_webhook: str | None = None
    tocsin_amqp_password_push: str | None = None
    tocsin_amqp_password_incidents: str | None = None
    tocsin_amqp_password_admin: str | None = None
    connect_timeout_s: float = 5.0

    @property
    def jwt(self) -> JwtSettings:
        return JwtSettings(
            secret=self.jwt_secret,
            public_key=self.jwt_public_key,
            private_key=self.jwt_private_key,
            audience=self.jwt_audience,
            issuer=self.jwt_issuer,
        )

    def broker_passwords(self) -> dict[str, str]:
        """The TOCSIN_AMQP_PASSWORD_* variables that are set, by variable name."""
        prefix = "tocsin_amqp_password_"
        values = self.model_dump()
        return {k.upper(): str(v) for k, v in values.items() if k.startswith(prefix) and v}

    def service_urls(self) -> dict[str, str]:
        return parse_pairs(self.tocsin_service_urls)

    def realtime_urls(self) -> list[str]:
        return [u.strip().rstrip("/") for u in self.tocsin_realtime_urls.split(",") if u.strip()]


def parse_pairs(text: str) -> dict[str, str]:
    """`a=http://x,b=http://y` → {"a": "http://x", "b": "http://y"} (empty text → {})."""
    pairs: dict[str, str] = {}
    for item in text.split(","):
        name, sep, url = item.strip().partition("=")
        if sep and name.strip() and url.strip():
            pairs[name.strip()] = url.strip().rstrip("/")
    return pairs
