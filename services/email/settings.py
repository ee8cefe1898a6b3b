"""Settings of the email consumer, read from the environment once by the entrypoint."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from contracts.links import allowed_hosts
from messaging.broker_settings import BrokerSettings
from messaging.topology import DEFAULT_DELIVERY_LIMIT
from services.http_limits import HttpLimitsSettings


class SmtpSecurity(StrEnum):
    NONE = "none"
    STARTTLS = "starttls"
    TLS = "tls"


class Settings(BrokerSettings, HttpLimitsSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    database_url: str = "postgresql://postgres@127.0.0.1:5432/tocsin"
    host: str = "127.0.0.1"
    port: int = Field(default=8002, description="Port of /healthz, /readyz and /metrics.")
    log_level: str = "INFO"
    tocsin_env: str = Field(
        default="production", description="`dev`/`test` accept short secrets; see identity."
    )

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_security: SmtpSecurity = SmtpSecurity.NONE
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_timeout_s: float = 30.0
    smtp_validate_certs: bool = True
    smtp_ca_file: str | None = Field(
        default=None, description="CA bundle (PEM) that signs the SMTP server's certificate."
    )
    smtp_connections: int = Field(
        default=4,
        ge=1,
        description="SMTP connections kept open; also the number of sends in flight.",
    )
    email_from: str = "Tocsin <notifications@tocsin.localhost>"
    message_id_domain: str | None = Field(
        default=None, description="Right-hand side of Message-ID; defaults to EMAIL_FROM's domain."
    )

    public_api_url: str = Field(
        default="http://localhost:8000",
        description="Base URL of the notification service, for the unsubscribe link.",
    )
    app_url: str = Field(
        default="http://localhost:8000",
        description="Base URL that relative entity links in notifications are resolved against.",
    )
    entity_url_allowed_hosts: str = Field(
        default="",
        description="Comma-separated hosts, besides APP_URL's, an absolute http(s) entity_url "
        "may point to; any other link is left out of the email.",
    )
    unsubscribe_secret: str = Field(
        min_length=16,
        description="Signs the unsubscribe link of every email; the notification service must "
        "have the same value. Required: a built-in default would let anyone forge links.",
    )
    unsubscribe_mailto: str | None = Field(
        default=None, description="Optional mailto address added to List-Unsubscribe."
    )
    templates_dir: str | None = Field(
        default=None, description="A folder of templates searched before the built-in ones."
    )

    prefetch: int = Field(default=16, ge=1)
    retry_delays_ms: list[int] = Field(default=[1_000, 5_000, 30_000, 300_000, 1_800_000])
    delivery_limit: int = DEFAULT_DELIVERY_LIMIT
    db_pool_size: int = 8

    @property
    def entity_link_hosts(self) -> frozenset[str]:
        return allowed_hosts(self.entity_url_allowed_hosts.split(","))
