"""Devices: the browsers (Web Push subscriptions) and phones (FCM, APNs tokens) a person
registered. A person sees and removes only their own; another person's device is "not found".

Registering the same subscription or token again returns the existing device (and moves it to
the caller: a browser or phone belongs to whoever subscribed on it last).
"""

from __future__ import annotations

import base64
import ipaddress
import re
import uuid
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts.push import DeviceKind
from outbound.addresses import (
    BlockedAddress,
    InvalidWebhookUrl,
    PrivateTargets,
    default_port,
    validate_url,
)
from services.push import tables

ENDPOINT_MAX = 2048
ENDPOINT_PATTERN = r"^[\x21-\x7e]+$"
"""Printable ASCII: a push endpoint is a URL as a browser serialises it."""
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_:\-.]{8,4096}$")
APNS_TOKEN_PATTERN = re.compile(r"^[0-9a-fA-F]{64,200}$")
APP_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,254}$"


class DeviceError(Exception):
    code = "invalid_device"
    status = 422


class DeviceNotFound(DeviceError):
    code = "device_not_found"
    status = 404


class TooManyDevices(DeviceError):
    code = "too_many_devices"
    status = 409


class InvalidSubscription(DeviceError):
    code = "invalid_subscription"
    status = 422


class EndpointNotAllowed(DeviceError):
    code = "endpoint_not_allowed"
    status = 422


class ChannelDisabled(DeviceError):
    status = 503

    def __init__(self, kind: DeviceKind) -> None:
        super().__init__(f"{kind.value} push is not configured on this server")
        self.code = f"{kind.value}_push_disabled"


def _b64url(value: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (ValueError, TypeError) as exc:
        raise ValueError("not base64url") from exc


class SubscriptionKeys(BaseModel):
    model_config = ConfigDict(extra="ignore")

    p256dh: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_\-]+={0,2}$", max_length=100)]
    auth: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_\-]+={0,2}$", max_length=50)]

    @field_validator("p256dh")
    @classmethod
    def _point(cls, value: str) -> str:
        raw = _b64url(value)
        if len(raw) != 65 or raw[0] != 4:
            raise ValueError("p256dh must be an uncompressed P-256 public key")
        return value.rstrip("=")

    @field_validator("auth")
    @classmethod
    def _secret(cls, value: str) -> str:
        if len(_b64url(value)) != 16:
            raise ValueError("auth must be 16 bytes")
        return value.rstrip("=")


class WebSubscription(BaseModel):
    """A browser's `PushSubscription.toJSON()`."""

    model_config = ConfigDict(extra="ignore")

    endpoint: Annotated[
        str, StringConstraints(min_length=1, max_length=ENDPOINT_MAX, pattern=ENDPOINT_PATTERN)
    ]
    keys: SubscriptionKeys
    expirationTime: float | None = None  # the browser's own name


class MobileRegistration(BaseModel):
    """A phone's FCM registration token or APNs device token."""

    model_config = ConfigDict(extra="forbid")

    platform: Literal["fcm", "apns"]
    token: Annotated[str, StringConstraints(min_length=8, max_length=4096)]
    app_id: Annotated[str, StringConstraints(pattern=APP_ID_PATTERN)] | None = None
    environment: Literal["production", "sandbox"] = "production"

    @field_validator("token")
    @classmethod
    def _token(cls, value: str) -> str:
        if not TOKEN_PATTERN.match(value):
            raise ValueError("token has characters a device token never has")
        return value


class Device(BaseModel):
    """A registered device, as its owner sees it (keys and tokens stay on the server)."""

    id: str
    user_id: str
    kind: DeviceKind
    address: str = Field(exclude=True)
    p256dh: str | None = Field(default=None, exclude=True)
    auth: str | None = Field(default=None, exclude=True)
    app_id: str | None = None
    environment: str | None = None
    created_at: datetime
    last_success_at: datetime | None = None

    @property
    def label(self) -> str:
        """What the owner sees of the address: the push service's host, or a token's end."""
        if self.kind is DeviceKind.WEB:
            return self.address.split("/")[2] if self.address.count("/") >= 2 else "web"
        return f"…{self.address[-6:]}"


class DeviceView(BaseModel):
    id: str
    kind: DeviceKind
    where: str
    app_id: str | None
    environment: str | None
    created_at: datetime
    last_success_at: datetime | None

    @classmethod
    def of(cls, device: Device) -> DeviceView:
        return cls(
            id=device.id,
            kind=device.kind,
            where=device.label,
            app_id=device.app_id,
            environment=device.environment,
            created_at=device.created_at,
            last_success_at=device.last_success_at,
        )


def check_endpoint(endpoint: str, targets: PrivateTargets) -> None:
    """Web Push endpoints are https on public addresses, or an allow-listed local target
    (`PUSH_ALLOWED_TARGETS`, also reachable over plain http).

    Raises InvalidSubscription or EndpointNotAllowed."""
    try:
        validate_url(endpoint, targets)
    except InvalidWebhookUrl as exc:
        raise InvalidSubscription(str(exc)) from exc
    except BlockedAddress as exc:
        raise EndpointNotAllowed(str(exc)) from exc
    if not endpoint.startswith("https://") and not _allow_listed(endpoint, targets):
        raise EndpointNotAllowed("push endpoints must be https")


def _allow_listed(url: str, targets: PrivateTargets) -> bool:
    parts = urlsplit(url)
    try:
        address = ipaddress.ip_address((parts.hostname or "").strip("[]"))
    except ValueError:
        return False
    return targets.allows(address, parts.port or default_port(url))


def _row(row: sa.Row[tuple[object, ...]]) -> Device:
    return Device.model_validate(dict(row._mapping))


async def register(
    engine: AsyncEngine,
    user_id: str,
    kind: DeviceKind,
    address: str,
    *,
    max_devices: int,
    p256dh: str | None = None,
    auth: str | None = None,
    app_id: str | None = None,
    environment: str | None = None,
) -> tuple[Device, bool]:
    """Store a device for `user_id`; returns (device, created). Raises TooManyDevices."""
    devices = tables.devices
    async with engine.begin() as conn:
        # One registration at a time per person, so the cap holds under concurrent calls.
        await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(user_id))))
        existing = (
            await conn.execute(
                sa.select(devices).where(devices.c.kind == kind.value, devices.c.address == address)
            )
        ).first()
        if existing is None or existing.user_id != user_id:
            count = await _count(conn, user_id)
            if count >= max_devices:
                raise TooManyDevices(f"at most {max_devices} devices per person")
        statement = (
            insert(devices)
            .values(
                id=str(uuid.uuid4()),
                user_id=user_id,
                kind=kind.value,
                address=address,
                p256dh=p256dh,
                auth=auth,
                app_id=app_id,
                environment=environment,
            )
            .on_conflict_do_update(
                constraint="devices_kind_address",
                set_={
                    "user_id": user_id,
                    "p256dh": p256dh,
                    "auth": auth,
                    "app_id": app_id,
                    "environment": environment,
                },
            )
            .returning(*devices.c)
        )
        row = (await conn.execute(statement)).one()
    return _row(row), existing is None


async def _count(conn: AsyncConnection, user_id: str) -> int:
    devices = tables.devices
    query = sa.select(sa.func.count()).select_from(devices).where(devices.c.user_id == user_id)
    return int((await conn.execute(query)).scalar_one())


async def list_devices(engine: AsyncEngine, user_id: str) -> list[Device]:
    devices = tables.devices
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(devices).where(devices.c.user_id == user_id).order_by(devices.c.created_at)
        )
        return [_row(row) for row in rows]


async def get_device(engine: AsyncEngine, user_id: str, device_id: str) -> Device:
    """Raises DeviceNotFound, also for another person's device."""
    devices = tables.devices
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                sa.select(devices).where(devices.c.id == device_id, devices.c.user_id == user_id)
            )
        ).first()
    if row is None:
        raise DeviceNotFound("no such device")
    return _row(row)


async def delete_device(engine: AsyncEngine, user_id: str, device_id: str) -> None:
    """Raises DeviceNotFound, also for another person's device."""
    devices = tables.devices
    async with engine.begin() as conn:
        result = await conn.execute(
            devices.delete().where(devices.c.id == device_id, devices.c.user_id == user_id)
        )
    if result.rowcount == 0:
        raise DeviceNotFound("no such device")


async def delete_by_endpoint(engine: AsyncEngine, user_id: str, endpoint: str) -> None:
    """A browser unsubscribing: forget its subscription (nothing happens if it is unknown)."""
    devices = tables.devices
    async with engine.begin() as conn:
        await conn.execute(
            devices.delete().where(
                devices.c.kind == DeviceKind.WEB.value,
                devices.c.address == endpoint,
                devices.c.user_id == user_id,
            )
        )


async def devices_of(conn: AsyncConnection, user_id: str) -> list[Device]:
    devices = tables.devices
    rows = await conn.execute(
        sa.select(devices).where(devices.c.user_id == user_id).order_by(devices.c.created_at)
    )
    return [_row(row) for row in rows]


async def forget(conn: AsyncConnection, device_id: str) -> None:
    """The push service said the device no longer exists."""
    await conn.execute(tables.devices.delete().where(tables.devices.c.id == device_id))


async def touch(conn: AsyncConnection, device_id: str, at: datetime) -> None:
    devices = tables.devices
    await conn.execute(devices.update().where(devices.c.id == device_id).values(last_success_at=at))
