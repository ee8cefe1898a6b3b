"""Apple Push Notification service: HTTP/2, token-based (ES256 provider token) authentication.

`POST {base}/3/device/<token>` on the production or sandbox host (the device's
`environment`), with `authorization: bearer <JWT>` (header `kid` = key id, claims `iss` = team
id and `iat`; one token reused for 50 minutes, Apple refuses tokens older than an hour),
`apns-topic` (the app's bundle id, the device's `app_id`), `apns-push-type: alert`,
`apns-priority` (10, or 5 for low), `apns-expiration` and `apns-collapse-id`.

Answers: 410 `Unregistered`, 400 `BadDeviceToken` / `DeviceTokenNotForTopic` delete the
device; 429 and 5xx are retried honouring `Retry-After`; 403 `ExpiredProviderToken` /
`InvalidProviderToken` makes a new provider token and retries.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import jwt

from outbound.addresses import BlockedAddress
from outbound.transport import parse_retry_after
from services.push.channels import Result, SendResult, classify_status
from services.push.devices import Device
from services.push.message import PushMessage

PROVIDER_TOKEN_REUSE_S = 50 * 60
GONE_REASONS = frozenset({"Unregistered", "BadDeviceToken", "DeviceTokenNotForTopic"})
TOKEN_REASONS = frozenset({"ExpiredProviderToken", "InvalidProviderToken"})


class ProviderToken:
    def __init__(self, key: str, key_id: str, team_id: str) -> None:
        self.key, self.key_id, self.team_id = key, key_id, team_id
        self._token: str | None = None
        self._issued = 0.0

    def forget(self) -> None:
        self._token = None

    def get(self) -> str:
        now = time.time()
        if self._token is None or now - self._issued > PROVIDER_TOKEN_REUSE_S:
            self._token = jwt.encode(
                {"iss": self.team_id, "iat": int(now)},
                self.key,
                algorithm="ES256",
                headers={"kid": self.key_id},
            )
            self._issued = now
        return self._token


def apns_body(message: PushMessage) -> dict[str, Any]:
    data = json.loads(message.payload)
    return {
        "aps": {
            "alert": {"title": message.title, "body": message.body},
            "sound": "default",
            "thread-id": message.topic,
        },
        "tocsin": data,
    }


class ApnsChannel:
    def __init__(
        self,
        client: httpx.AsyncClient,
        token: ProviderToken,
        production_url: str,
        sandbox_url: str,
        timeout_s: float,
    ) -> None:
        self.client = client
        self.token = token
        self.urls = {"production": production_url.rstrip("/"), "sandbox": sandbox_url.rstrip("/")}
        self.timeout_s = timeout_s

    async def send(self, device: Device, message: PushMessage) -> SendResult:
        if not device.app_id:
            return SendResult(Result.FAILED, detail="APNs device has no app_id (bundle id)")
        base = self.urls.get(device.environment or "production", self.urls["production"])
        headers = {
            "authorization": f"bearer {self.token.get()}",
            "apns-topic": device.app_id,
            "apns-push-type": "alert",
            "apns-priority": "5" if message.urgency == "low" else "10",
            "apns-expiration": str(int(time.time()) + message.ttl_s),
            "apns-collapse-id": message.topic,
        }
        try:
            async with asyncio.timeout(self.timeout_s):
                response = await self.client.post(
                    f"{base}/3/device/{device.address}",
                    content=json.dumps(apns_body(message)).encode(),
                    headers=headers,
                )
        except BlockedAddress as exc:
            return SendResult(Result.FAILED, detail=f"blocked: {exc}")
        except (TimeoutError, httpx.HTTPError, OSError) as exc:
            return SendResult(Result.RETRY, detail=f"{type(exc).__name__}: {exc}"[:300])
        reason = _reason(response) if response.status_code >= 400 else None
        if reason in GONE_REASONS or response.status_code == 410:
            return SendResult(Result.GONE, response.status_code, reason)
        if reason in TOKEN_REASONS:
            self.token.forget()
            return SendResult(Result.RETRY, response.status_code, reason)
        result = classify_status(
            response.status_code, parse_retry_after(response.headers.get("retry-after"))
        )
        if result.result is Result.GONE:  # a 404 is a wrong path, not a gone device
            return SendResult(Result.FAILED, response.status_code, reason or result.detail)
        return SendResult(
            result.result, result.status_code, reason or result.detail, result.retry_after_s
        )


def _reason(response: httpx.Response) -> str | None:
    try:
        reason = response.json().get("reason")
    except ValueError:
        return None
    return str(reason) if reason else None
