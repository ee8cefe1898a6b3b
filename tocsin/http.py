"""One HTTP call to Tocsin (through the gateway), its errors mapped to ApiError once."""

from __future__ import annotations

from typing import Any

import httpx

from tocsin.errors import ApiError


async def call(client: httpx.AsyncClient, method: str, path: str, **options: Any) -> Any:
    """The JSON body of a 2xx answer. Raises ApiError with the API's stable error code (from
    `{"error": {"code", "message"}}`), or status 0 `unreachable` when no answer came."""
    try:
        response = await client.request(method, path, **options)
    except httpx.HTTPError as exc:
        raise ApiError(0, "unreachable", f"{type(exc).__name__} calling {path}") from exc
    if response.is_success:
        return response.json()
    code, message = f"http_{response.status_code}", response.reason_phrase
    try:
        error = response.json()["error"]
        code, message = str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        pass
    raise ApiError(response.status_code, code, message)
