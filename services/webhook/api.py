"""HTTP edge: endpoint registration under /api/v1/webhooks, health, readiness and metrics.

Each route parses its input, calls one function of `endpoints`, and maps domain errors to
`{"error": {"code", "message"}}` with a 4xx status.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.exceptions import HTTPException as StarletteHTTPException

from identity import TokenError, verify_token
from identity.rate_limit import CallerLimits, RateLimited
from identity.tokens import WEBHOOKS_ADMIN_SCOPE
from messaging.consumers import QueueConsumer
from outbound.addresses import NO_PRIVATE_TARGETS, PrivateTargets
from services.webhook import endpoints
from services.webhook.audit import EndpointChange
from services.webhook.endpoints import Attempt, Caller, Endpoint, EndpointError
from services.webhook.metrics import Metrics
from services.webhook.settings import Settings

ERROR_STATUS: dict[type[EndpointError], int] = {
    endpoints.EndpointNotFound: 404,
    endpoints.Forbidden: 403,
    endpoints.TooManyEndpoints: 409,
    endpoints.InvalidUrl: 422,
    endpoints.UrlNotAllowed: 422,
}


@dataclass
class ServiceState:
    settings: Settings
    engine: AsyncEngine
    metrics: Metrics
    limits: CallerLimits
    consumer: QueueConsumer | None = None
    private_targets: PrivateTargets = NO_PRIVATE_TARGETS


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class EndpointCreated(Endpoint):
    secret: str


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def state_of(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.webhook
    return state


State = Annotated[ServiceState, Depends(state_of)]

EndpointId = Annotated[str, Path(min_length=1, max_length=255, pattern=r"^[^\x00]*$")]
"""A path's endpoint id: URL decoding leaves NUL as the only character Postgres cannot hold."""


def caller_of(state: State, authorization: Annotated[str | None, Header()] = None) -> Caller:
    token = None
    if authorization:
        scheme, _, value = authorization.partition(" ")
        token = value.strip() if scheme.lower() == "bearer" else None
    try:
        claims = verify_token(token, state.settings.jwt)
    except TokenError as exc:
        raise ApiError(401, exc.code, str(exc)) from exc
    state.limits.admit(claims)
    return Caller(user_id=claims.user_id, is_admin=claims.has_scope(WEBHOOKS_ADMIN_SCOPE))


Authenticated = Annotated[Caller, Depends(caller_of)]

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])


@router.post("/endpoints", status_code=201, response_model=EndpointCreated)
async def register_endpoint(
    body: endpoints.RegisterEndpoint, caller: Authenticated, state: State
) -> EndpointCreated:
    """Register an endpoint; the response carries its `whsec_` secret, shown only this once."""
    endpoint, secret = await endpoints.register(
        state.engine, caller, body, state.private_targets, state.settings.max_endpoints_per_user
    )
    return EndpointCreated(**endpoint.model_dump(), secret=secret)


@router.get("/endpoints", response_model=list[Endpoint])
async def list_endpoints(caller: Authenticated, state: State) -> list[Endpoint]:
    return await endpoints.list_endpoints(state.engine, caller)


@router.get("/endpoints/{endpoint_id}", response_model=Endpoint)
async def get_endpoint(endpoint_id: EndpointId, caller: Authenticated, state: State) -> Endpoint:
    return await endpoints.get_endpoint(state.engine, caller, endpoint_id)


@router.patch("/endpoints/{endpoint_id}", response_model=Endpoint)
async def update_endpoint(
    endpoint_id: EndpointId, body: endpoints.UpdateEndpoint, caller: Authenticated, state: State
) -> Endpoint:
    return await endpoints.update_endpoint(
        state.engine, caller, endpoint_id, body, state.private_targets
    )


class RotatedSecret(BaseModel):
    secret: str
    previous_secret_valid_until: datetime


@router.post("/endpoints/{endpoint_id}/secret/rotate", response_model=RotatedSecret)
async def rotate_secret(
    endpoint_id: EndpointId, caller: Authenticated, state: State
) -> RotatedSecret:
    """A new secret, shown only now; the previous one keeps signing (beside the new one) for
    `WEBHOOK_SECRET_GRACE_S` so the receiver can switch without losing a delivery."""
    grace = timedelta(seconds=state.settings.secret_grace_s)
    secret = await endpoints.rotate_secret(state.engine, caller, endpoint_id, grace)
    return RotatedSecret(secret=secret, previous_secret_valid_until=datetime.now(UTC) + grace)


@router.delete("/endpoints/{endpoint_id}", status_code=204)
async def delete_endpoint(endpoint_id: EndpointId, caller: Authenticated, state: State) -> Response:
    await endpoints.delete_endpoint(state.engine, caller, endpoint_id)
    return Response(status_code=204)


@router.get("/endpoints/{endpoint_id}/attempts", response_model=list[Attempt])
async def list_attempts(
    endpoint_id: EndpointId,
    caller: Authenticated,
    state: State,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[Attempt]:
    """The endpoint's most recent attempts, newest first (status, duration, error, at)."""
    return await endpoints.list_attempts(state.engine, caller, endpoint_id, limit)


@router.get("/endpoints/{endpoint_id}/changes", response_model=list[EndpointChange])
async def list_changes(
    endpoint_id: str,
    caller: Authenticated,
    state: State,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[EndpointChange]:
    """Changes an administrator (`webhooks:admin`) made to this endpoint, newest first."""
    return await endpoints.list_changes(state.engine, caller, endpoint_id, limit)


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
    if state.settings.consumer_enabled and not (state.consumer and state.consumer.ready):
        problems.append("broker: consumer not running")
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

    @app.exception_handler(RateLimited)
    async def rate_limited(_: Request, exc: RateLimited) -> JSONResponse:
        response = error_response(429, exc.code, exc.message)
        response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after_s)))
        return response

    @app.exception_handler(EndpointError)
    async def endpoint_error(_: Request, exc: EndpointError) -> JSONResponse:
        return error_response(ERROR_STATUS.get(type(exc), 400), exc.code, str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()))
        return error_response(422, "invalid_request", f"{where}: {first.get('msg', 'invalid')}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail))
