"""Strings Postgres cannot store — NUL characters and lone UTF-16 surrogates (`"\\ud800"` in
JSON) — in every text field of the notification and webhook APIs of real processes: each one is
refused with a 4xx JSON error and a stable code, never a 500."""

from __future__ import annotations

import json
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from identity import JwtSettings, mint_token
from identity.tokens import EVENTS_READ_SCOPE
from tests.support.system import System
from tests.support.users import new_user

ODD_CHARACTERS = st.one_of(
    st.just("\x00"), st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
)
odd_strings = st.builds(
    lambda before, odd, after: before + odd + after,
    st.text(max_size=20),
    ODD_CHARACTERS,
    st.text(max_size=20),
)
"""Text with at least one NUL or lone surrogate somewhere in it."""

EXAMPLES = settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def body(value: dict[str, Any]) -> dict[str, Any]:
    """JSON with \\u escapes (a lone surrogate has no UTF-8 form), as a hostile client sends it."""
    return {
        "content": json.dumps(value).encode(),
        "headers": {"content-type": "application/json"},
    }


def assert_refused(response: httpx.Response, what: str) -> None:
    assert 400 <= response.status_code < 500, (what, response.status_code, response.text)
    assert response.json()["error"]["code"], (what, response.text)


@EXAMPLES
@given(odd=odd_strings)
def test_odd_strings_in_notification_fields_are_refused(
    hostile_system: System, jwt_keys: JwtSettings, odd: str
) -> None:
    service = hostile_system.service_headers("hostile-odd-service")
    reader = {
        "Authorization": "Bearer "
        + mint_token(jwt_keys, "hostile-odd-reader", scopes=[EVENTS_READ_SCOPE])
    }
    user = new_user()
    note = {"recipients": [user], "type": "odd", "title": "odd"}
    calls = [
        ("recipients", "POST", "/api/v1/notifications", {**note, "recipients": [odd]}, service),
        ("title", "POST", "/api/v1/notifications", {**note, "title": odd}, service),
        ("entity_id", "POST", "/api/v1/notifications", {**note, "entity_id": odd}, service),
        ("subscriber name", "PUT", f"/api/v1/subscribers/{user}", {"name": odd}, service),
        ("latest-seqs", "POST", "/api/v1/internal/latest-seqs", {"user_ids": [odd]}, reader),
    ]
    with httpx.Client(base_url=hostile_system.api_url, timeout=10) as api:
        for what, method, path, payload, headers in calls:
            response = api.request(method, path, **_with(body(payload), headers))
            assert_refused(response, what)


@EXAMPLES
@given(odd=odd_strings)
def test_odd_strings_in_webhook_fields_are_refused(hostile_system: System, odd: str) -> None:
    owner = hostile_system.user_headers(new_user())
    endpoints = "/api/v1/webhooks/endpoints"
    url = "https://hooks.example.com/in"
    with httpx.Client(base_url=hostile_system.webhook_url, timeout=10) as webhooks:
        for what, payload in (
            ("url", {"url": f"https://hooks.example.com/{odd}"}),
            ("description", {"url": url, "description": odd}),
            ("user_id", {"url": url, "user_id": odd}),
        ):
            assert_refused(webhooks.post(endpoints, **_with(body(payload), owner)), what)
        for path in (f"{endpoints}/ab%00cd", f"{endpoints}/ab%ED%A0%80cd"):
            assert_refused(webhooks.get(path, headers=owner), path)
            assert_refused(webhooks.delete(path, headers=owner), path)
            patch = webhooks.patch(path, **_with(body({"description": odd}), owner))
            assert_refused(patch, path)


def _with(request: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    return {**request, "headers": {**request["headers"], **headers}}
