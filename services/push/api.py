"""HTTP edge: devices under /api/v1/push, health, readiness and metrics.

Who may call what:
- `GET /api/v1/push/vapid-public-key`: anyone (it is the public half, browsers need it).
- everything under `/api/v1/push/subscriptions`: a valid JWT; its `sub` is the owner. A
  person sees and removes only their own devices; another person's is 404.
Errors are `{"error": {"code", "message"}}` with a 4xx status.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.exceptions import HTTPException as StarletteHTTPException

from contracts.push import PUSH_API_PREFIX, DeviceKind
from identity import TokenError, verify_token
from outbound.addresses import PrivateTargets
from services.push import devices
from services.push.devices import DeviceError, DeviceView, MobileRegistration, WebSubscription
from services.push.metrics import Metrics
from services.push.settings import Settings

MAX_BODY_BYTES = 16 * 1024


@dataclass
class ServiceState:
    settings: Settings
    engine: AsyncEngine
    metrics: Metrics
    vapid_public_key: str | None
    enabled_kinds: frozenset[DeviceKind]
    allowed_targets: PrivateTargets
    readiness: list[Any] = field(default_factory=list)
    """Callables answering True when a background part (consumer, sender) is running."""


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def state_of(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.push
    return state


State = Annotated[ServiceState, Depends(state_of)]


def owner_of(state: State, authorization: Annotated[str | None, Header()] = None) -> str:
    token = None
    if authorization:
        scheme, _, value = authorization.partition(" ")
        token = value.strip() if scheme.lower() == "bearer" else None
    try:
        return verify_token(token, state.settings.jwt).user_id
    except TokenError as exc:
        raise ApiError(401, exc.code, str(exc)) from exc


Owner = Annotated[str, Depends(owner_of)]

router = APIRouter(prefix=PUSH_API_PREFIX, tags=["push"])


@router.get("/vapid-public-key")
async def vapid_public_key(state: State) -> dict[str, str]:
    """The `applicationServerKey` for `PushManager.subscribe()`; 503 when Web Push is off."""
    if state.vapid_public_key is None:
        raise ApiError(503, "web_push_disabled", "Web Push is not configured on this server")
    return {"public_key": state.vapid_public_key}


async def _json_body(request: Request) -> Any:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
        raise ApiError(413, "payload_too_large", f"at most {MAX_BODY_BYTES} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_BODY_BYTES:
            raise ApiError(413, "payload_too_large", f"at most {MAX_BODY_BYTES} bytes")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(422, "invalid_request", "the body is not JSON") from exc


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return "invalid"
    where = ".".join(str(part) for part in errors[0]["loc"])
    return f"{where}: {errors[0]['msg']}"


@router.post("/subscriptions", status_code=201, response_model=DeviceView)
async def subscribe(request: Request, owner: Owner, state: State, response: Response) -> DeviceView:
    """Register a browser (`{endpoint, keys: {p256dh, auth}}`, a PushSubscription's JSON) or
    a phone (`{platform: "fcm"|"apns", token, app_id, environment}`). 201 for a new device,
    200 when it was registered already."""
    body = await _json_body(request)
    if not isinstance(body, dict):
        raise ApiError(422, "invalid_request", "the body must be a JSON object")
    settings = state.settings
    try:
        if "platform" in body:
            mobile = MobileRegistration.model_validate(body)
            kind = DeviceKind(mobile.platform)
            if kind is DeviceKind.APNS and not devices.APNS_TOKEN_PATTERN.match(mobile.token):
                raise ApiError(422, "invalid_request", "token: an APNs token is hex")
            if kind is DeviceKind.APNS and not mobile.app_id:
                raise ApiError(422, "invalid_request", "app_id: the app's bundle id is needed")
            _enabled(state, kind)
            device, created = await devices.register(
                state.engine,
                owner,
                kind,
                mobile.token,
                max_devices=settings.max_devices_per_user,
                app_id=mobile.app_id,
                environment=mobile.environment if kind is DeviceKind.APNS else None,
            )
        else:
            web = WebSubscription.model_validate(body)
            _enabled(state, DeviceKind.WEB)
            devices.check_endpoint(web.endpoint, state.allowed_targets)
            device, created = await devices.register(
                state.engine,
                owner,
                DeviceKind.WEB,
                web.endpoint,
                max_devices=settings.max_devices_per_user,
                p256dh=web.keys.p256dh,
                auth=web.keys.auth,
            )
    except ValidationError as exc:
        raise ApiError(422, "invalid_request", _first_error(exc)) from exc
    if not created:
        response.status_code = 200
    return DeviceView.of(device)


def _enabled(state: ServiceState, kind: DeviceKind) -> None:
    if kind not in state.enabled_kinds:
        raise devices.ChannelDisabled(kind)


@router.get("/subscriptions", response_model=list[DeviceView])
async def list_subscriptions(owner: Owner, state: State) -> list[DeviceView]:
    return [DeviceView.of(d) for d in await devices.list_devices(state.engine, owner)]


@router.get("/subscriptions/{device_id}", response_model=DeviceView)
async def get_subscription(device_id: str, owner: Owner, state: State) -> DeviceView:
    return DeviceView.of(await devices.get_device(state.engine, owner, device_id))


@router.delete("/subscriptions/{device_id}", status_code=204)
async def delete_subscription(device_id: str, owner: Owner, state: State) -> Response:
    await devices.delete_device(state.engine, owner, device_id)
    return Response(status_code=204)


@router.delete("/subscriptions", status_code=204)
async def delete_by_endpoint(
    owner: Owner,
    state: State,
    endpoint: Annotated[
        str,
        Query(min_length=1, max_length=devices.ENDPOINT_MAX, pattern=devices.ENDPOINT_PATTERN),
    ],
) -> Response:
    """A browser forgetting its own subscription by endpoint (it may not know the id)."""
    await devices.delete_by_endpoint(state.engine, owner, endpoint)
    return Response(status_code=204)


operations = APIRouter()


@operations.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@operations.get("/readyz")
async def readyz(state: State) -> JSONResponse:
    problems = []
    try:
        async with state.engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
    except Exception as exc:
        problems.append(f"database: {type(exc).__name__}")
    if not all(check() for check in state.readiness):
        problems.append("consumer or timers not running")
    if problems:
        return error_response(503, "not_ready", "; ".join(problems))
    return JSONResponse({"status": "ready"})


@operations.get("/metrics")
async def metrics(state: State) -> Response:
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


def install(app: FastAPI) -> None:
    """Add the routes and the error mapping to `app`."""
    app.include_router(router)
    app.include_router(operations)

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message)

    @app.exception_handler(DeviceError)
    async def device_error(_: Request, exc: DeviceError) -> JSONResponse:
        return error_response(exc.status, exc.code, str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()))
        return error_response(422, "invalid_request", f"{where}: {first.get('msg', 'invalid')}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail))
