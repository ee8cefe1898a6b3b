"""What the CLI talks to, from environment variables (the same names the services use)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.topology import Topology
from identity import JwtSettings

DEFAULT_SERVICE_URLS = (
    "notification=http://127.0.0.1:8000,"
    "realtime=http://127.0.0.1:8001,"
    "email=http://127.0.0.1:8002,"
    "webhook=http://127.0.0.1:8003,"
    "push=http://127.0.0.1:8004"
)


class CliSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    database_url: str = "postgresql://postgres@127.0.0.1:5432/tocsin"
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    tocsin_namespace: str = "tocsin"
    tocsin_api_url: str = "http://localhost:8000"
    jwt_secret: str | None = None
    jwt_public_key: str | None = None
    jwt_private_key: str | None = None
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    tocsin_service_urls: str = Field(
        default=DEFAULT_SERVICE_URLS,
        description="name=base_url pairs, comma-separated; `status` asks each for /readyz.",
    )
    tocsin_realtime_urls: str = Field(
        default="http://127.0.0.1:8001",
        description="Base URLs of the realtime instances, comma-separated; `status` reads "
        "their /metrics for connected sockets.",
    )
    tocsin_max_relay_lag_s: float = 30.0
    connect_timeout_s: float = 5.0

    @property
    def topology(self) -> Topology:
        return Topology(self.tocsin_namespace)

    @property
    def jwt(self) -> JwtSettings:
        return JwtSettings(
            secret=self.jwt_secret,
            public_key=self.jwt_public_key,
            private_key=self.jwt_private_key,
            audience=self.jwt_audience,
            issuer=self.jwt_issuer,
        )

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
