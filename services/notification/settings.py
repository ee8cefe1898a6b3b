"""Configuration of the notification service, read from the environment once at start."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from contracts.links import allowed_hosts
from identity.settings import JwtEnvSettings, RateLimitEnvSettings
from messaging.broker_settings import BrokerSettings
from services.http_limits import HttpLimitsSettings
from services.notification.lanes import DEFAULT_URGENT_PRIORITIES, parse_urgent_priorities

DEFAULT_CORS_ORIGINS = "http://localhost:8000,http://127.0.0.1:8000"  # the gateway


class Settings(BrokerSettings, JwtEnvSettings, RateLimitEnvSettings, HttpLimitsSettings):
    """Every setting has an environment variable of the same name in upper case."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    database_url: str = "postgresql://postgres@127.0.0.1:5432/tocsin"
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    log_level: str = "INFO"
    relay_enabled: bool = True
    cors_origins: str = DEFAULT_CORS_ORIGINS
    db_pool_size: int = 20
    db_command_timeout_s: float = 5.0
    cursor_secret: str | None = Field(
        default=None,
        description="Signs pagination cursors; defaults to the JWT secret. Required with "
        "RS256 (JWT_PUBLIC_KEY): a public key cannot keep a cursor from being forged.",
    )
    entity_url_allowed_hosts: str = Field(
        default="",
        description="Comma-separated hosts an absolute http(s) entity_url may point to; "
        "relative paths (one leading /) are always accepted. Empty: relative paths only.",
    )
    idempotency_key_ttl_s: int = Field(
        default=86_400,
        ge=1,
        description="How long an Idempotency-Key is honoured after its first use; after that "
        "the key is new again and its stored response is purged.",
    )
    idempotency_purge_interval_s: float = Field(
        default=3600.0, gt=0, description="How often expired idempotency keys are deleted."
    )
    docs_enabled: bool = Field(
        default=True, description="Serve /docs, /redoc and /openapi.json; false: 404."
    )
    relay_batch_size: int = 200
    relay_poll_interval_s: float = 1.0
    relay_partitions: int = Field(
        default=1,
        ge=1,
        le=256,
        description="Partitions of the event store by user id hash, each with its own active "
        "relay (services/notification/partitions.py). Every process must use the same number.",
    )
    relay_max_partitions: int | None = Field(
        default=None,
        ge=1,
        description="Partitions this process relays at most at once (default: all), so that "
        "several processes share them; the others' relays wait as standbys.",
    )
    relay_urgent_priorities: str = Field(
        default=",".join(DEFAULT_URGENT_PRIORITIES),
        description="Comma-separated priorities whose notifications the relay publishes ahead "
        "of a backlog (with their users' earlier events, services/notification/lanes.py); "
        "`critical,high` adds high. Empty: every event in insertion order.",
    )
    incidents_enabled: bool = Field(
        default=True, description="Consume incident.* events (services/notification/incidents)."
    )
    incident_rules_path: Path | None = Field(
        default=None, description="Rules file; default services/notification/incidents/rules.yaml."
    )
    deliveries_enabled: bool = Field(
        default=True, description="Record delivery.* outcomes (services/notification/deliveries)."
    )
    unsubscribe_secret: str | None = Field(
        default=None,
        min_length=16,
        description="Verifies email unsubscribe links; the email consumer's UNSUBSCRIBE_SECRET. "
        "No default: without it the unsubscribe endpoints answer 404 `unsubscribe_disabled`.",
    )

    @property
    def entity_link_hosts(self) -> frozenset[str]:
        return allowed_hosts(self.entity_url_allowed_hosts.split(","))

    @property
    def cors_origin_list(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]

    @field_validator("relay_urgent_priorities")
    @classmethod
    def _known_priorities(cls, value: str) -> str:
        return ",".join(parse_urgent_priorities(value))

    @property
    def urgent_priorities(self) -> tuple[str, ...]:
        return parse_urgent_priorities(self.relay_urgent_priorities)

    @model_validator(mode="after")
    def _cursor_key_is_secret(self) -> Settings:
        if self.jwt_public_key and not (self.cursor_secret or self.jwt_secret):
            raise ValueError(
                "set CURSOR_SECRET: with JWT_PUBLIC_KEY (RS256) pagination cursors need a "
                "secret of their own; a public key would let anyone forge one"
            )
        return self

    @property
    def cursor_key(self) -> bytes:
        """The key that signs pagination cursors; raises ValueError when there is none (the
        API needs JWT_SECRET or CURSOR_SECRET; the relay alone needs neither)."""
        key = self.cursor_secret or self.jwt_secret
        if not key:
            raise ValueError("set JWT_SECRET (HS256) or CURSOR_SECRET to serve the API")
        return key.encode()
