"""Configuration of the realtime service, read from the environment once in `__main__`."""

from __future__ import annotations

import uuid

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import SettingsConfigDict

from contracts.presence import default_presence_prefix
from identity.settings import JwtEnvSettings
from messaging.broker_settings import BrokerSettings
from services.http_limits import HttpLimitsSettings


class Settings(BrokerSettings, JwtEnvSettings, HttpLimitsSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    host: str = "127.0.0.1"
    port: int = 8001
    log_level: str = "INFO"
    instance_id: str = Field(default_factory=lambda: uuid.uuid4().hex[:12])

    notification_api_url: str = "http://127.0.0.1:8000"
    notification_api_token: str | None = None
    catchup_limit: int = Field(default=1000, ge=1, le=1000)
    catchup_timeout_s: float = 5.0

    allowed_origins: str = Field(
        default="http://localhost:8000,http://127.0.0.1:8000",
        validation_alias=AliasChoices("ALLOWED_ORIGINS", "CORS_ORIGINS", "allowed_origins"),
        description="Comma-separated browser origins allowed to connect (the API's "
        "CORS_ORIGINS); `*` allows any. A handshake without Origin is always allowed.",
    )
    max_connections_per_user: int = Field(default=20, ge=1)
    max_channels_per_socket: int = Field(default=64, ge=1, le=10_000)
    http_max_connections: int = Field(
        default=100_000,
        ge=0,
        description="Open connections, sockets included, beyond which HTTP requests (health, "
        "metrics) get 503; sockets are this service's job, so the cap is high.",
    )
    outbound_buffer_messages: int = Field(default=512, ge=1)
    ws_ping_interval_s: float = 30.0
    ws_ping_timeout_s: float = 20.0
    unbind_grace_s: float = Field(default=30.0, ge=0)
    broker_reconnect_interval_s: float = Field(default=5.0, gt=0)
    self_check_interval_s: float = Field(default=15.0, ge=0)
    """0 turns the self-check off."""
    shutdown_timeout_s: int = 5
    ws_impl: str = "websockets-sansio"

    redis_url: str = "redis://127.0.0.1:6379/0"
    presence_prefix: str | None = None
    """Key prefix in Redis; `<TOCSIN_NAMESPACE>:presence` when unset."""
    presence_heartbeat_s: float = Field(default=2.0, gt=0)
    presence_dead_after_s: float = Field(default=10.0, gt=0)
    presence_leave_delay_s: float = Field(default=3.0, ge=0)

    @model_validator(mode="after")
    def _presence_bounds(self) -> Settings:
        if self.presence_dead_after_s < 2 * self.presence_heartbeat_s:
            raise ValueError("PRESENCE_DEAD_AFTER_S must be at least twice PRESENCE_HEARTBEAT_S")
        return self

    @property
    def presence_key_prefix(self) -> str:
        return self.presence_prefix or default_presence_prefix(self.tocsin_namespace)

    @property
    def origins(self) -> frozenset[str]:
        items = (o.strip().rstrip("/") for o in self.allowed_origins.split(","))
        return frozenset(o for o in items if o)
