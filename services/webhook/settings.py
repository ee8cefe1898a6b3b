"""Configuration of the webhook service, read once from the environment by the entrypoint."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from identity.rate_limit import Rate
from identity.settings import JwtEnvSettings, RateLimitEnvSettings
from messaging.broker_settings import BrokerSettings
from outbound.addresses import TOCSIN_DEFAULT_PORTS, PrivateTargets
from services.http_limits import HttpLimitsSettings

DEFAULT_RETRY_DELAYS_MS: tuple[int, ...] = (
    5_000,
    300_000,
    1_800_000,
    7_200_000,
    18_000_000,
    36_000_000,
    36_000_000,
)
"""Waits before attempts 2..9: the first attempt is immediate, then 5 s, 5 min, 30 min, 2 h,
5 h, 10 h, 10 h."""


DEFAULT_PORTS = {"postgresql": 5432, "postgres": 5432, "amqp": 5672, "amqps": 5671,
                 "http": 80, "https": 443, "ws": 80, "wss": 443}  # fmt: skip


def _port_of(url: str) -> int:
    parts = urlsplit(url)
    try:
        explicit = parts.port
    except ValueError:
        explicit = None
    return explicit or DEFAULT_PORTS.get(parts.scheme.split("+", 1)[0], 0)


class Settings(BrokerSettings, JwtEnvSettings, RateLimitEnvSettings, HttpLimitsSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/tocsin", alias="DATABASE_URL"
    )
    host: str = Field(default="127.0.0.1", alias="HOST")
    port: int = Field(default=8003, alias="PORT")
    log_level: str = Field(default="INFO", alias="LOG_LEVEL")

    docs_enabled: bool = Field(default=True, alias="DOCS_ENABLED")
    """Serve /docs, /redoc and /openapi.json; false answers 404."""
    consumer_enabled: bool = Field(default=True, alias="WEBHOOK_CONSUMER_ENABLED")
    """False runs an API-only copy (no queue consumer)."""
    allowed_private_targets: str = Field(default="", alias="WEBHOOK_ALLOWED_PRIVATE_TARGETS")
    """Comma list of non-global `address:port` pairs webhooks may reach, for local testing
    (`127.0.0.1:9999,[::1]:9999`); empty (the default) refuses every private target. Pairs on
    one of Tocsin's own ports (`reserved_ports`) are never allowed; metadata addresses stay
    refused."""
    tocsin_urls: str = Field(default="", alias="WEBHOOK_TOCSIN_URLS")
    """Comma list of the URLs of Tocsin's other services (API, realtime, gateway, email
    metrics) when they run on ports other than the defaults: their ports are never targets."""
    max_endpoints_per_user: int = Field(default=10, ge=1, alias="WEBHOOK_MAX_ENDPOINTS_PER_USER")
    """A user's endpoints at most (global endpoints are not counted); over it, 409."""
    endpoint_rate_per_s: float = Field(default=10.0, ge=0, alias="WEBHOOK_ENDPOINT_RATE_PER_S")
    """Deliveries a second to one endpoint, after a burst of `WEBHOOK_ENDPOINT_BURST`; those
    over it wait (never dropped). 0 turns the limit off."""
    endpoint_burst: int = Field(default=20, ge=1, alias="WEBHOOK_ENDPOINT_BURST")
    timeout_s: float = Field(default=15.0, gt=0, alias="WEBHOOK_TIMEOUT_S")
    retry_delays_ms: Annotated[tuple[int, ...], NoDecode] = Field(
        default=DEFAULT_RETRY_DELAYS_MS, alias="WEBHOOK_RETRY_DELAYS_MS"
    )
    retry_jitter: float = Field(default=0.1, ge=0, lt=1, alias="WEBHOOK_RETRY_JITTER")
    disable_after_s: float = Field(default=5 * 24 * 3600, gt=0, alias="WEBHOOK_DISABLE_AFTER_S")
    """An endpoint failing without a single success for this long is disabled."""
    prefetch: int = Field(default=32, ge=1, alias="WEBHOOK_PREFETCH")
    max_concurrency: int = Field(default=16, ge=1, alias="WEBHOOK_MAX_CONCURRENCY")
    max_response_bytes: int = Field(default=64 * 1024, ge=0, alias="WEBHOOK_MAX_RESPONSE_BYTES")
    delivery_limit: int = Field(default=20, ge=1, alias="WEBHOOK_DELIVERY_LIMIT")
    secret_grace_s: float = Field(default=24 * 3600, ge=0, alias="WEBHOOK_SECRET_GRACE_S")
    """After a rotation, how long deliveries are also signed with the previous secret."""
    retention_days: float = Field(default=30, gt=0, alias="WEBHOOK_RETENTION_DAYS")
    """Attempts, finished deliveries and seen events older than this are deleted."""
    prune_interval_s: float = Field(default=3600, gt=0, alias="WEBHOOK_PRUNE_INTERVAL_S")

    @property
    def endpoint_rate(self) -> Rate:
        return Rate(self.endpoint_rate_per_s, self.endpoint_burst)

    @property
    def reserved_ports(self) -> frozenset[int]:
        """Ports webhooks never reach on a private address: this service's own, Tocsin's
        default service ports, the database's and the broker's (and its management port), and
        those of `WEBHOOK_TOCSIN_URLS`."""
        urls = [self.database_url, *self.amqp_url.split(","), *self.tocsin_urls.split(",")]
        ports = {self.port, *TOCSIN_DEFAULT_PORTS}
        for url in (u.strip() for u in urls if u.strip()):
            ports.add(_port_of(url))
        return frozenset(ports)

    @property
    def private_targets(self) -> PrivateTargets:
        return PrivateTargets.parse(self.allowed_private_targets.split(","), self.reserved_ports)

    @field_validator("allowed_private_targets")
    @classmethod
    def _targets_parse(cls, value: str) -> str:
        PrivateTargets.parse(value.split(","))
        return value

    @field_validator("retry_delays_ms", mode="before")
    @classmethod
    def _split_delays(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(int(part) for part in value.replace(" ", "").split(",") if part)
        return value

    @field_validator("retry_delays_ms")
    @classmethod
    def _positive_delays(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(delay <= 0 for delay in value):
            raise ValueError("retry delays must be a non-empty list of positive milliseconds")
        return value
