"""Firebase Cloud Messaging, HTTP v1 API.

Authentication is OAuth 2.0 for a service account: a JWT assertion signed (RS256) with the
account's private key is exchanged at the token endpoint (`token_uri` of the credentials, or
PUSH_FCM_TOKEN_URL) for an access token, cached until shortly before it expires. A message
goes to `POST {PUSH_FCM_URL}/v1/projects/<project>/messages:send`.

Answers: `UNREGISTERED` (404) and `SENDER_ID_MISMATCH` mean the token is gone (the device is
deleted); `INVALID_ARGUMENT` naming the token likewise; 429/5xx are retried honouring
`Retry-After`; a 401 drops the cached access token and retries.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization

from outbound.addresses import BlockedAddress
from outbound.transport import parse_retry_after
from services.push.channels import Result, SendResult, classify_status
from services.push.devices import Device
from services.push.message import PushMessage

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
GONE_CODES = frozenset({"UNREGISTERED", "SENDER_ID_MISMATCH"})
TOKEN_MARGIN_S = 300


class InvalidCredentials(ValueError):
    """PUSH_FCM_CREDENTIALS is not a service-account JSON."""


@dataclass(frozen=True)
class ServiceAccount:
    project_id: str
    client_email: str
    private_key: str
    token_uri: str

    @classmethod
    def load(cls, value: str, token_url: str | None) -> ServiceAccount:
        """From the JSON text or a path to it; raises InvalidCredentials."""
        text = value if value.lstrip().startswith("{") else Path(value).read_text()
        try:
            data = json.loads(text)
            serialization.load_pem_private_key(data["private_key"].encode(), password=None)
            return cls(
                project_id=data["project_id"],
                client_email=data["client_email"],
                private_key=data["private_key"],
                token_uri=token_url or data["token_uri"],
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidCredentials(f"not a service-account JSON: {exc}") from exc


class AccessTokens:
    """One access token at a time, refreshed before it expires."""

    def __init__(self, client: httpx.AsyncClient, account: ServiceAccount) -> None:
        self.client = client
        self.account = account
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()

    def forget(self) -> None:
        self._token = None

    async def get(self) -> str:
        """Raises httpx.HTTPError or RuntimeError when the token endpoint refuses."""
        async with self._lock:
            if self._token is not None and time.time() < self._expires - TOKEN_MARGIN_S:
                return self._token
            now = int(time.time())
            assertion = jwt.encode(
                {
                    "iss": self.account.client_email,
                    "scope": SCOPE,
                    "aud": self.account.token_uri,
                    "iat": now,
                    "exp": now + 3600,
                },
                self.account.private_key,
                algorithm="RS256",
            )
            response = await self.client.post(
                self.account.token_uri,
                data={
                    "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                    "assertion": assertion,
                },
            )
            if response.status_code != 200:
                raise RuntimeError(f"token endpoint answered {response.status_code}")
            body = response.json()
            self._token = str(body["access_token"])
            self._expires = now + float(body.get("expires_in", 3600))
            return self._token


def fcm_message(device: Device, message: PushMessage) -> dict[str, Any]:
    data = json.loads(message.payload)
    return {
        "message": {
            "token": device.address,
            "notification": {"title": message.title, "body": message.body},
            "data": {key: "" if value is None else str(value) for key, value in data.items()},
            "android": {
                "priority": "high" if message.urgency == "high" else "normal",
                "ttl": f"{message.ttl_s}s",
                "collapse_key": message.topic,
            },
            "apns": {"headers": {"apns-collapse-id": message.topic}},
            "webpush": {"headers": {"Topic": message.topic, "Urgency": message.urgency}},
        }
    }


def error_code(response: httpx.Response) -> str | None:
    """The FcmError `errorCode` of an error answer, else its `status`."""
    try:
        error = response.json().get("error", {})
    except ValueError:
        return None
    for detail in error.get("details", []) or []:
        if isinstance(detail, dict) and detail.get("errorCode"):
            return str(detail["errorCode"])
    status = error.get("status")
    return str(status) if status else None


class FcmChannel:
    def __init__(
        self, client: httpx.AsyncClient, account: ServiceAccount, base_url: str, timeout_s: float
    ) -> None:
        self.client = client
        self.tokens = AccessTokens(client, account)
        self.url = f"{base_url.rstrip('/')}/v1/projects/{account.project_id}/messages:send"
        self.timeout_s = timeout_s

    async def send(self, device: Device, message: PushMessage) -> SendResult:
        try:
            async with asyncio.timeout(self.timeout_s):
                token = await self.tokens.get()
                response = await self.client.post(
                    self.url,
                    json=fcm_message(device, message),
                    headers={"authorization": f"Bearer {token}"},
                )
        except BlockedAddress as exc:
            return SendResult(Result.FAILED, detail=f"blocked: {exc}")
        except (TimeoutError, httpx.HTTPError, OSError, RuntimeError, ValueError) as exc:
            return SendResult(Result.RETRY, detail=f"{type(exc).__name__}: {exc}"[:300])
        code = error_code(response) if response.status_code >= 400 else None
        if code in GONE_CODES or (code == "INVALID_ARGUMENT" and "token" in response.text.lower()):
            return SendResult(Result.GONE, response.status_code, code)
        if response.status_code == 401:
            self.tokens.forget()
            return SendResult(Result.RETRY, 401, "access token refused")
        result = classify_status(
            response.status_code, parse_retry_after(response.headers.get("retry-after"))
        )
        if result.result is Result.GONE:  # a 404 without UNREGISTERED: the project, not the token
            return SendResult(Result.FAILED, response.status_code, code or result.detail)
        return SendResult(
            result.result, result.status_code, code or result.detail, result.retry_after_s
        )
