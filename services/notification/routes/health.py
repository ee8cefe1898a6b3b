"""Liveness and readiness."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import text

from messaging import brokers
from services.notification.http_errors import JSONResponse
from services.notification.routes.dependencies import Service

router = APIRouter(tags=["health"])

CHECK_TIMEOUT_S = 3.0


@router.get("/healthz")
async def healthz() -> dict[str, Any]:
    """The process is alive."""
    return {"status": "ok"}


async def _database_ok(service: Service) -> bool:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S), service.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


async def _broker_ok(amqp_url: str) -> bool:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            connection = await brokers.connect(amqp_url, timeout=CHECK_TIMEOUT_S)
            await connection.close()
        return True
    except Exception:
        return False


@router.get("/readyz")
async def readyz(request: Request, service: Service) -> JSONResponse:
    """200 when the database and the broker are reachable, else 503 saying which is not."""
    database, broker = await asyncio.gather(
        _database_ok(service), _broker_ok(request.app.state.settings.amqp_url)
    )
    checks = {"database": database, "broker": broker}
    if all(checks.values()):
        return JSONResponse({"status": "ready", "checks": checks})
    failing = [name for name, ok in checks.items() if not ok]
    return JSONResponse(
        {
            "error": {"code": "not_ready", "message": f"unreachable: {', '.join(failing)}"},
            "checks": checks,
        },
        status_code=503,
    )
