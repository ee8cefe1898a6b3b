"""Every error leaves as JSON `{"error": {"code", "message"}}`; each domain error class is
mapped to a status here, once. Bad input is always a 4xx, never a 500."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse as StarletteJSONResponse
from starlette.responses import Response

from database.outages import OUTAGE_ERRORS, is_outage
from identity.rate_limit import RateLimited
from services.notification import errors
from services.notification.auth import Forbidden, Unauthenticated
from services.notification.email_address import INVALID_EMAIL

logger = logging.getLogger(__name__)

STATUS_OF: dict[type[errors.DomainError], int] = {
    errors.NotificationNotFound: 404,
    errors.IncidentNotFound: 404,
    errors.IdempotencyKeyReused: 409,
    errors.IdempotencyKeyInProgress: 409,
    errors.InvalidCursor: 400,
    errors.InvalidPreference: 422,
    errors.InvalidEntityUrl: 422,
    errors.UnsubscribeDisabled: 404,
}

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


FIELD_CODES = frozenset({INVALID_EMAIL})
"""Validation errors whose own type is the response's code (a 422 still, with `details`)."""


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorBody(BaseModel):
    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": code}
    for status, code in {
        400: "bad_request",
        401: "unauthenticated",
        403: "insufficient_scope",
        404: "not_found",
        405: "method_not_allowed",
        409: "conflict",
        413: "payload_too_large",
        415: "unsupported_media_type",
        422: "validation_error",
        429: "rate_limited",
        503: "database_unavailable",
    }.items()
}
"""Every error a route can answer, documented once for the OpenAPI document."""


class JSONResponse(StarletteJSONResponse):
    """orjson rendering. A JSONResponse subclass, so FastAPI documents each route's response
    model in the OpenAPI document (with a plain Response it documents every body as a string)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


def error_response(
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {
            "loc": [str(part) for part in e.get("loc", ())],
            "msg": e.get("msg"),
            "type": e.get("type"),
        }
        for e in exc.errors()
    ]


async def _domain(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.DomainError)
    return error_response(STATUS_OF.get(type(exc), 400), exc.code, exc.message)


async def _validation(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    details = _validation_details(exc)
    first = details[0] if details else {"loc": [], "msg": "invalid request"}
    where = ".".join(first["loc"][1:] if len(first["loc"]) > 1 else first["loc"])
    message = f"{where}: {first['msg']}" if where else str(first["msg"])
    code = first.get("type") if first.get("type") in FIELD_CODES else "validation_error"
    return error_response(422, str(code), message, details)


async def _http(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = HTTP_CODES.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, str(exc.detail), headers=exc.headers)


async def _unauthenticated(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, Unauthenticated)
    return error_response(401, exc.code, exc.message, headers={"WWW-Authenticate": "Bearer"})


async def _forbidden(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, Forbidden)
    return error_response(403, exc.code, exc.message)


async def _rate_limited(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RateLimited)
    retry_after = max(1, math.ceil(exc.retry_after_s))
    details = {"retry_after_s": round(exc.retry_after_s, 3)}
    return error_response(
        429, exc.code, exc.message, details, headers={"Retry-After": str(retry_after)}
    )


async def _database_unavailable(_: Request, exc: Exception) -> Response:
    logger.warning("database unavailable: %r", exc)
    return error_response(503, "database_unavailable", "the database is not reachable; retry later")


async def _database_error(request: Request, exc: Exception) -> Response:
    if is_outage(exc):
        return await _database_unavailable(request, exc)
    return await _internal(request, exc)


async def _internal(_: Request, exc: Exception) -> Response:
    logger.error("unhandled error: %r", exc)
    return error_response(500, "internal_error", "an unexpected error occurred")


def install(app: FastAPI) -> None:
    app.add_exception_handler(errors.DomainError, _domain)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(Unauthenticated, _unauthenticated)
    app.add_exception_handler(Forbidden, _forbidden)
    app.add_exception_handler(RateLimited, _rate_limited)
    for database_error in (*OUTAGE_ERRORS, sa_exc.DBAPIError):
        app.add_exception_handler(database_error, _database_error)
    app.add_exception_handler(Exception, _internal)
