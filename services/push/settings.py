"""Configuration of the push service, read once from the environment by the entrypoint."""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from contracts.notifications import Priority
from identity.settings import JwtEnvSettings
from messaging.broker_settings import BrokerSettings
from outbound.addresses import TOCSIN_DEFAULT_PORTS, PrivateTargets
from services.http_limits import HttpLimitsSettings

DEFAULT_RETRY_DELAYS_MS: tuple[int, ...] = (1_000, 5_000, 30_000, 300_000)
"""Queue-level retries (the handler could not record the event: database or broker trouble)."""

DEFAULT_SEND_BACKOFF_S: tuple[float, ...] = (5, 30, 120, 600, 1800)
"""Waits between attempts to a push service that answered 429/5xx without a Retry-After."""


def _split_ints(value: Any) -> Any:
    if isinstance(value, str):
        return tuple(int(part) for part in value.replace(" ", "").split(",") if part)
    return value


class Settings(BrokerSettings, JwtEnvSettings, HttpLimitsSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/tocsin", alias="DATABASE_URL"
    )
    host: str = Field(default="127.0.0.1", alias="HOST")
    port: int = Field(default=8004, alias="PORT")
    log_level: str = Field(default="INFO", alias="LOG_LEVEL")

    consumer_enabled: bool = Field(default=True, alias="PUSH_CONSUMER_ENABLED")
    """False runs an API-only copy (no queue consumer, no timers)."""

    vapid_private_key: str | None = Field(default=None, alias="PUSH_VAPID_PRIVATE_KEY")
    """Base64url of the raw 32-byte P-256 private key (`tocsin push vapid-keys`). Without it
    Web Push is off: browser subscriptions are refused with 503 `web_push_disabled`."""
    vapid_subject: str = Field(default="mailto:ops@tocsin.localhost", alias="PUSH_VAPID_SUBJECT")
    """The `sub` claim: a mailto: or https: contact for the push services' operators."""

    fcm_credentials: str | None = Field(default=None, alias="PUSH_FCM_CREDENTIALS")
    """A Google service-account JSON (the text, or a path to the file). Without it FCM is off."""
    fcm_url: str = Field(default="https://fcm.googleapis.com", alias="PUSH_FCM_URL")
    fcm_token_url: str | None = Field(default=None, alias="PUSH_FCM_TOKEN_URL")
    """Overrides the credentials' `token_uri`."""

    apns_key: str | None = Field(default=None, alias="PUSH_APNS_KEY")
    """The .p8 signing key (PEM text, or a path). Without it APNs is off."""
    apns_key_id: str | None = Field(default=None, alias="PUSH_APNS_KEY_ID")
    apns_team_id: str | None = Field(default=None, alias="PUSH_APNS_TEAM_ID")
    apns_production_url: str = Field(
        default="https://api.push.apple.com", alias="PUSH_APNS_PRODUCTION_URL"
    )
    apns_sandbox_url: str = Field(
        default="https://api.sandbox.push.apple.com", alias="PUSH_APNS_SANDBOX_URL"
    )

    allowed_targets: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), alias="PUSH_ALLOWED_TARGETS"
    )
    """`address:port` pairs (IP addresses) reachable although not public, and over plain
    http (local push services in tests and demos); never Tocsin's own ports. Everything else
    must be https on a public address."""
    timeout_s: float = Field(default=10.0, gt=0, alias="PUSH_TIMEOUT_S")
    ttl_s: int = Field(default=86_400, ge=0, le=2_419_200, alias="PUSH_TTL_S")

    delay_s: float = Field(default=60.0, ge=0, alias="PUSH_DELAY_S")
    """How long a notification may stay unread, while its person is online, before a push."""
    delay_by_priority: Annotated[dict[Priority, float], NoDecode] = Field(
        default_factory=dict, alias="PUSH_DELAY_BY_PRIORITY"
    )
    delay_by_type: Annotated[dict[str, float], NoDecode] = Field(
        default_factory=dict, alias="PUSH_DELAY_BY_TYPE"
    )
    """JSON objects; a negative delay means never push. The type wins over the priority;
    `critical` always goes at once."""
    realtime_url: str | None = Field(default=None, alias="REALTIME_URL")
    """Where presence is asked. Unset: presence is unknown and every push waits its delay."""
    presence_timeout_s: float = Field(default=2.0, gt=0, alias="PUSH_PRESENCE_TIMEOUT_S")

    max_devices_per_user: int = Field(default=20, ge=1, alias="PUSH_MAX_DEVICES_PER_USER")
    timer_poll_s: float = Field(default=1.0, gt=0, alias="PUSH_TIMER_POLL_S")
    timer_batch: int = Field(default=32, ge=1, alias="PUSH_TIMER_BATCH")
    max_send_attempts: int = Field(default=6, ge=1, alias="PUSH_MAX_SEND_ATTEMPTS")
    send_backoff_s: Annotated[tuple[float, ...], NoDecode] = Field(
        default=DEFAULT_SEND_BACKOFF_S, alias="PUSH_SEND_BACKOFF_S"
    )
    max_concurrency: int = Field(default=16, ge=1, alias="PUSH_MAX_CONCURRENCY")
    """Sends in flight per copy (they share one database transaction per round)."""
    db_pool_size: int = Field(default=4, ge=1, alias="PUSH_DB_POOL_SIZE")

    retention_days: float = Field(default=30, gt=0, alias="PUSH_RETENTION_DAYS")
    """Seen events and finished pushes and sends older than this are deleted."""
    prune_interval_s: float = Field(default=3600, gt=0, alias="PUSH_PRUNE_INTERVAL_S")

    retry_delays_ms: Annotated[tuple[int, ...], NoDecode] = Field(
        default=DEFAULT_RETRY_DELAYS_MS, alias="PUSH_RETRY_DELAYS_MS"
    )
    delivery_limit: int = Field(default=20, ge=1, alias="PUSH_DELIVERY_LIMIT")
    prefetch: int = Field(default=32, ge=1, alias="PUSH_PREFETCH")

    @field_validator("retry_delays_ms", mode="before")
    @classmethod
    def _split_delays(cls, value: Any) -> Any:
        return _split_ints(value)

    @field_validator("send_backoff_s", mode="before")
    @classmethod
    def _split_backoff(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(float(part) for part in value.replace(" ", "").split(",") if part)
        return value

    @field_validator("allowed_targets", mode="before")
    @classmethod
    def _split_targets(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("delay_by_priority", "delay_by_type", mode="before")
    @classmethod
    def _json_object(cls, value: Any) -> Any:
        if isinstance(value, str):
            return json.loads(value) if value.strip() else {}
        return value

    def targets(self) -> PrivateTargets:
        """`allowed_targets` as the outgoing allow-list (Tocsin's own ports never in it);
        raises ValueError for a malformed entry."""
        try:
            return PrivateTargets.parse(
                self.allowed_targets, reserved_ports={self.port, *TOCSIN_DEFAULT_PORTS}
            )
        except ValueError as exc:
            raise ValueError(f"PUSH_ALLOWED_TARGETS: {exc}") from exc
