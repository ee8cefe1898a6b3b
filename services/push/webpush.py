"""Web Push (RFC 8030 delivery, RFC 8291 message encryption, RFC 8292 VAPID).

The payload is encrypted with pywebpush's encoder (http_ece, `aes128gcm`) for the
subscription's keys and signed with py-vapid; the POST itself goes through our own async
httpx client, which connects only to checked addresses (`outbound.transport`).
"""

from __future__ import annotations

import asyncio
import logging

import httpx
from pywebpush import WebPusher

from outbound.addresses import BlockedAddress
from outbound.transport import parse_retry_after
from services.push.channels import Result, SendResult, classify_status
from services.push.devices import Device
from services.push.message import PushMessage
from services.push.vapid import VapidSigner

logger = logging.getLogger(__name__)


def encrypt(device: Device, payload: bytes) -> bytes:
    """The `aes128gcm` body for this subscription (a fresh ephemeral key and salt each time)."""
    pusher = WebPusher(
        {"endpoint": device.address, "keys": {"p256dh": device.p256dh, "auth": device.auth}}
    )
    body: bytes = pusher.encode(payload, "aes128gcm")["body"]
    return body


class WebPushChannel:
    def __init__(self, client: httpx.AsyncClient, signer: VapidSigner, timeout_s: float) -> None:
        self.client = client
        self.signer = signer
        self.timeout_s = timeout_s

    async def send(self, device: Device, message: PushMessage) -> SendResult:
        try:
            body = encrypt(device, message.payload)
        except Exception as exc:  # keys that do not form a valid point, and the like
            return SendResult(Result.GONE, detail=f"unusable subscription keys: {exc}"[:300])
        headers = {
            "authorization": self.signer.authorization(device.address),
            "content-encoding": "aes128gcm",
            "content-type": "application/octet-stream",
            "ttl": str(message.ttl_s),
            "urgency": message.urgency,
            "topic": message.topic,
        }
        try:
            async with asyncio.timeout(self.timeout_s):
                response = await self.client.post(device.address, content=body, headers=headers)
        except BlockedAddress as exc:
            return SendResult(Result.FAILED, detail=f"blocked: {exc}")
        except (TimeoutError, httpx.HTTPError, OSError) as exc:
            return SendResult(Result.RETRY, detail=f"{type(exc).__name__}: {exc}"[:300])
        return classify_status(
            response.status_code, parse_retry_after(response.headers.get("retry-after"))
        )
