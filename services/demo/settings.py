"""Configuration of the demo page server, read from the environment once in `__main__`."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from identity import JwtSettings
from messaging.broker_settings import BrokerSettings

DEFAULT_STATIC_DIR = Path(__file__).resolve().parents[2] / "clients" / "web" / "dist" / "demo"


class Settings(BrokerSettings):
    """Every setting has an environment variable of the same name in upper case."""

    model_config = SettingsConfigDict(extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8080
    log_level: str = "INFO"
    tocsin_env: str = "production"
    jwt_secret: str | None = None
    jwt_private_key: str | None = None
    jwt_public_key: str | None = None
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    notification_api_url: str = Field(
        default="http://127.0.0.1:8000", description="Where this server calls the API."
    )
    public_api_url: str | None = Field(
        default=None, description="The API as browsers reach it; NOTIFICATION_API_URL if unset."
    )
    public_ws_url: str = "ws://localhost:8001"
    demo_users: str = "alice,bob,carol"
    demo_token_ttl_s: int = Field(default=3600, ge=60)
    demo_reconnect_interval_ms: int = Field(default=1000, ge=1)
    demo_reconnect_max_delay_ms: int = Field(default=30000, ge=1)
    demo_incident_id: str = Field(default="demo-42", pattern=r"^[A-Za-z0-9._~@=+-]{1,200}$")
    static_dir: Path = DEFAULT_STATIC_DIR
    request_timeout_s: float = 5.0

    @property
    def users(self) -> list[str]:
        return [u.strip() for u in self.demo_users.split(",") if u.strip()]

    @property
    def jwt(self) -> JwtSettings:
        return JwtSettings(
            secret=self.jwt_secret,
            private_key=self.jwt_private_key,
            public_key=self.jwt_public_key,
            audience=self.jwt_audience,
            issuer=self.jwt_issuer,
        )
