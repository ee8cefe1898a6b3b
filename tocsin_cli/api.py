"""`tocsin token`, `send` and `announce`: talking to the notification API like a service."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from identity import mint_token
from identity.tokens import ADMIN_SCOPE, WRITE_SCOPE
from tocsin_cli.errors import CliError
from tocsin_cli.settings import CliSettings

SERVICE_SUBJECT = "tocsin-cli"


def token(settings: CliSettings, user: str, scopes: list[str], ttl_s: int) -> str:
    if not (settings.jwt_secret or settings.jwt_private_key):
        raise CliError("set JWT_SECRET (HS256) or JWT_PRIVATE_KEY with JWT_PUBLIC_KEY (RS256)")
    if ttl_s <= 0:
        raise CliError("--ttl must be a positive number of seconds")
    if settings.jwt_max_lifetime_s and ttl_s > settings.jwt_max_lifetime_s:
        raise CliError(
            f"--ttl {ttl_s} is longer than JWT_MAX_LIFETIME_S ({settings.jwt_max_lifetime_s} s): "
            "the services would refuse the token"
        )
    try:
        return mint_token(settings.jwt, user, scopes=scopes, ttl_s=ttl_s)
    except ValueError as exc:
        raise CliError(str(exc)) from exc


def _service_token(settings: CliSettings) -> str:
    return token(settings, SERVICE_SUBJECT, [WRITE_SCOPE, ADMIN_SCOPE], 300)


def post(
    settings: CliSettings, path: str, body: dict[str, Any], api_url: str | None = None
) -> dict[str, Any]:
    """POST as a service; CliError with the API's error code and message on a 4xx/5xx."""
    base = (api_url or settings.tocsin_api_url).rstrip("/")
    headers = {
        "Authorization": f"Bearer {_service_token(settings)}",
        "Idempotency-Key": str(uuid.uuid4()),
    }
    try:
        response = httpx.post(f"{base}{path}", json=body, headers=headers, timeout=10.0)
    except httpx.HTTPError as exc:
        raise CliError(
            f"cannot reach the notification API at {base}: {exc} (set --api-url or TOCSIN_API_URL)"
        ) from exc
    if response.status_code >= 400:
        raise CliError(f"{path} answered {response.status_code}: {_error_text(response)}")
    try:
        result = response.json()
    except ValueError:
        return {}
    return result if isinstance(result, dict) else {"items": result}


def _error_text(response: httpx.Response) -> str:
    try:
        error = response.json().get("error", {})
        return f"{error.get('code', '?')}: {error.get('message', response.text)}"
    except (ValueError, AttributeError):
        return response.text[:300]
