"""Sending test notifications through the notification API, as a service would."""

from __future__ import annotations

import logging
from typing import Any

import httpx

from identity import JwtSettings, mint_token
from identity.tokens import WRITE_SCOPE

logger = logging.getLogger(__name__)

SERVICE_SUBJECT = "demo-page"


class UnknownUser(Exception):
    """The name is not one of the configured demo users."""

    code = "unknown_user"


class ApiUnavailable(Exception):
    """The notification API did not answer, or refused the request; `code` is its error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class DemoUsers:
    """The demo users: who they are, and their short-lived development tokens."""

    def __init__(self, names: list[str], jwt: JwtSettings, ttl_s: int) -> None:
        self.names = names
        self._jwt = jwt
        self._ttl_s = ttl_s

    def token_for(self, name: str) -> tuple[str, int]:
        """A user token for `name` and its lifetime in seconds; raises UnknownUser."""
        if name not in self.names:
            raise UnknownUser(f"{name!r} is not a demo user")
        return mint_token(self._jwt, name, ttl_s=self._ttl_s), self._ttl_s


class NotificationSender:
    """Creates notifications with a service token (scope `notifications:write`)."""

    def __init__(self, http: httpx.AsyncClient, jwt: JwtSettings) -> None:
        self._http = http
        self._jwt = jwt

    async def send(self, recipients: list[str], content: dict[str, Any]) -> int:
        """Creates one notification per recipient; returns how many were created.

        Raises ApiUnavailable when the API is unreachable or answers with an error.
        """
        token = mint_token(self._jwt, SERVICE_SUBJECT, scopes=[WRITE_SCOPE], ttl_s=60)
        try:
            response = await self._http.post(
                "/api/v1/notifications",
                json={"recipients": recipients, **content},
                headers={"Authorization": f"Bearer {token}"},
            )
        except httpx.HTTPError as exc:
            logger.warning("notification API unreachable: %s", exc)
            raise ApiUnavailable("notification_api_unavailable", str(exc) or "unreachable") from exc
        if response.status_code >= 400:
            error = _error_of(response)
            logger.warning("notification API refused: %s %s", response.status_code, error)
            raise ApiUnavailable(error.get("code", "upstream_error"), error.get("message", ""))
        body = response.json()
        count = int(body.get("count", len(recipients)))
        logger.info("sent %d demo notifications to %s", count, ",".join(recipients))
        return count


def _error_of(response: httpx.Response) -> dict[str, str]:
    try:
        error = response.json().get("error")
    except ValueError:
        error = None
    if isinstance(error, dict):
        return {str(k): str(v) for k, v in error.items()}
    return {"code": "upstream_error", "message": f"HTTP {response.status_code}"}
