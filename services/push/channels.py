"""The interface every push channel (Web Push, FCM, APNs) implements, and what a send yields.

A channel never raises for the remote side's answers or for network trouble: they are a
`SendResult`. `gone` means the device no longer exists (404/410, `UNREGISTERED`,
`BadDeviceToken`): the caller deletes it. `retry_after_s` on a transient result is the remote
side's `Retry-After`, when it gave one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from services.push.devices import Device
from services.push.message import PushMessage


class Result(StrEnum):
    DELIVERED = "delivered"
    GONE = "gone"
    RETRY = "retry"
    FAILED = "failed"


@dataclass(frozen=True)
class SendResult:
    result: Result
    status_code: int | None = None
    detail: str | None = None
    retry_after_s: float | None = None


class PushChannel(Protocol):
    async def send(self, device: Device, message: PushMessage) -> SendResult:
        """Send `message` to `device`; never raises for what the remote side answers."""
        ...


class Unconfigured:
    """The channel of a device kind whose credentials are not set: fails every send."""

    def __init__(self, what: str) -> None:
        self.what = what

    async def send(self, device: Device, message: PushMessage) -> SendResult:
        return SendResult(Result.FAILED, detail=f"{self.what} is not configured")


def classify_status(status: int, retry_after_s: float | None) -> SendResult:
    """The common reading of an HTTP answer from a push service."""
    if 200 <= status < 300:
        return SendResult(Result.DELIVERED, status)
    if status in (404, 410):
        return SendResult(Result.GONE, status, f"push service answered {status}")
    if status in (408, 429) or status >= 500:
        return SendResult(Result.RETRY, status, f"push service answered {status}", retry_after_s)
    return SendResult(Result.FAILED, status, f"push service answered {status}")
