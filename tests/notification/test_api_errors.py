"""Every bad request gets a 4xx JSON error with a stable code; a user never sees another's."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from identity import JwtSettings, mint_token
from services.notification.app import create_app
from services.notification.settings import Settings
from tests.support.in_process import serving
from tests.support.infra import free_port
from tests.support.users import new_user

GOOD = {"type": "incident_created", "title": "Hello", "priority": "normal"}


async def create_one(client: httpx.AsyncClient, headers: dict[str, str], user: str) -> str:
    response = await client.post(
        "/api/v1/notifications", json={"recipients": [user], **GOOD}, headers=headers
    )
    assert response.status_code == 201, response.text
    return str(response.json()["notifications"][0]["id"])


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]


async def test_another_users_notification_is_not_found_for_every_operation(
    client: httpx.AsyncClient,
    service_headers: dict[str, str],
    user_token: Callable[[str], dict[str, str]],
) -> None:
    owner, stranger = new_user(), new_user()
    notification_id = await create_one(client, service_headers, owner)
    them = user_token(stranger)
    for method, path in [
        ("GET", f"/api/v1/notifications/{notification_id}"),
        ("POST", f"/api/v1/notifications/{notification_id}/read"),
        ("POST", f"/api/v1/notifications/{notification_id}/unread"),
        ("DELETE", f"/api/v1/notifications/{notification_id}"),
        ("GET", "/api/v1/notifications/not-a-uuid"),
        ("POST", "/api/v1/notifications/not-a-uuid/read"),
    ]:
        assert_error(
            await client.request(method, path, headers=them), 404, "notification_not_found"
        )
    listed = await client.get("/api/v1/notifications", headers=them)
    assert listed.json()["items"] == []
    mine = await client.get(f"/api/v1/notifications/{notification_id}", headers=user_token(owner))
    assert mine.status_code == 200 and mine.json()["is_read"] is False


async def test_missing_or_invalid_tokens_get_401_and_missing_scope_403(
    client: httpx.AsyncClient, jwt: JwtSettings, user_token: Callable[[str], dict[str, str]]
) -> None:
    assert_error(await client.get("/api/v1/notifications"), 401, "missing_token")
    assert_error(
        await client.get("/api/v1/notifications", headers={"Authorization": "Bearer nonsense"}),
        401,
        "invalid_token",
    )
    wrong_key = mint_token(JwtSettings(secret="another-secret"), new_user())
    assert_error(
        await client.get("/api/v1/notifications", headers={"Authorization": f"Bearer {wrong_key}"}),
        401,
        "invalid_token",
    )
    expired = mint_token(jwt, new_user(), ttl_s=-10)
    assert_error(
        await client.get("/api/v1/notifications", headers={"Authorization": f"Bearer {expired}"}),
        401,
        "invalid_token",
    )
    user_headers = user_token(new_user())
    assert_error(
        await client.post(
            "/api/v1/notifications", json={"recipients": ["x"], **GOOD}, headers=user_headers
        ),
        403,
        "insufficient_scope",
    )
    assert_error(
        await client.get("/api/v1/internal/users/x/events", headers=user_headers),
        403,
        "insufficient_scope",
    )
    assert_error(
        await client.post(
            "/api/v1/internal/latest-seqs", json={"user_ids": ["x"]}, headers=user_headers
        ),
        403,
        "insufficient_scope",
    )
    assert_error(
        await client.post("/api/v1/internal/latest-seqs", json={"user_ids": ["x"]}),
        401,
        "missing_token",
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"recipients": [], **GOOD}, "recipients"),
        ({"recipients": [f"u{i}" for i in range(1001)], **GOOD}, "recipients"),
        ({"recipients": [""], **GOOD}, "recipients"),
        ({"recipients": ["u"], **GOOD, "priority": "urgent"}, "priority"),
        ({"recipients": ["u"], **GOOD, "type": "Not A Type!"}, "type"),
        ({"recipients": ["u"], **GOOD, "title": ""}, "title"),
        ({"recipients": ["u"], **GOOD, "title": "t" * 201}, "title"),
        ({"recipients": ["u"], **GOOD, "message": "m" * 2001}, "message"),
        ({"recipients": ["u"], **GOOD, "entity_url": "/" + "x" * 2048}, "entity_url"),
        ({"recipients": "u", **GOOD}, "recipients"),
        ({"recipients": ["u"], **GOOD, "surprise": 1}, "surprise"),
        ({"type": "incident_created", "title": "no recipients"}, "recipients"),
        ({"recipients": ["u\u0000"], **GOOD}, "recipients"),
        ({"recipients": ["u"], **GOOD, "title": "nul \u0000 inside"}, "title"),
        ({"recipients": ["u"], **GOOD, "entity_id": "\u0000"}, "entity_id"),
    ],
)
async def test_invalid_create_requests_get_422_validation_error(
    client: httpx.AsyncClient, service_headers: dict[str, str], body: dict[str, object], field: str
) -> None:
    response = await client.post("/api/v1/notifications", json=body, headers=service_headers)
    assert_error(response, 422, "validation_error")
    assert any(field in detail["loc"] for detail in response.json()["error"]["details"])


async def test_malformed_json_and_bad_queries_get_4xx_json(
    client: httpx.AsyncClient,
    service_headers: dict[str, str],
    user_token: Callable[[str], dict[str, str]],
) -> None:
    me = user_token(new_user())
    malformed = await client.post(
        "/api/v1/notifications",
        content=b'{"recipients": [',
        headers={**service_headers, "Content-Type": "application/json"},
    )
    assert_error(malformed, 422, "validation_error")
    not_json = await client.post(
        "/api/v1/notifications", content=b"\xff\xfe", headers=service_headers
    )
    assert 400 <= not_json.status_code < 500
    assert not_json.json()["error"]["code"]
    for query in ("limit=0", "limit=101", "priority=urgent", "type=BAD TYPE", "unread=maybe"):
        assert_error(
            await client.get(f"/api/v1/notifications?{query}", headers=me), 422, "validation_error"
        )
    assert_error(
        await client.get("/api/v1/notifications?cursor=forged.cursor", headers=me),
        400,
        "invalid_cursor",
    )
    assert_error(await client.get("/api/v1/nowhere", headers=me), 404, "not_found")
    assert_error(await client.patch("/api/v1/notifications", headers=me), 405, "method_not_allowed")
    assert_error(
        await client.put(
            "/api/v1/preferences",
            json={"preferences": [{"type": "*", "channel": "pigeon", "enabled": True}]},
            headers=me,
        ),
        422,
        "validation_error",
    )
    assert_error(
        await client.put(
            "/api/v1/subscribers/someone", json={"email": "not-an-email"}, headers=service_headers
        ),
        422,
        "invalid_email",
    )


async def test_database_down_answers_503_database_unavailable(
    settings: Settings,
    user_token: Callable[[str], dict[str, str]],
    service_headers: dict[str, str],
) -> None:
    unreachable = settings.model_copy(
        update={
            "database_url": f"postgresql://postgres@127.0.0.1:{free_port()}/tocsin",
            "relay_enabled": False,
            "db_command_timeout_s": 2.0,
        }
    )
    async with serving(create_app(unreachable), "http://notification.test") as client:
        response = await client.get("/api/v1/notifications", headers=user_token(new_user()))
        assert_error(response, 503, "database_unavailable")
        for headers in (service_headers, {**service_headers, "Idempotency-Key": "k"}):
            created = await client.post(
                "/api/v1/notifications", json={"recipients": ["u"], **GOOD}, headers=headers
            )
            assert_error(created, 503, "database_unavailable")
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"] is False


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": True, "broker": True}


async def test_cors_allows_the_demo_page(client: httpx.AsyncClient) -> None:
    response = await client.options(
        "/api/v1/notifications",
        headers={
            "Origin": "http://localhost:8000",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "Authorization",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "http://localhost:8000"


@pytest.mark.parametrize(
    "user_ids",
    [[], [f"u{i}" for i in range(1001)], ["a\u0000b"], [""], "not-a-list"],
)
async def test_latest_seqs_refuses_empty_too_many_or_unusable_user_ids_with_422(
    client: httpx.AsyncClient, service_headers: dict[str, str], user_ids: object
) -> None:
    assert_error(
        await client.post(
            "/api/v1/internal/latest-seqs", json={"user_ids": user_ids}, headers=service_headers
        ),
        422,
        "validation_error",
    )


async def test_openapi_document_describes_the_api(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/api/v1/notifications",
        "/api/v1/notifications/{notification_id}/read",
        "/api/v1/internal/users/{user_id}/events",
        "/api/v1/subscribers/{user_id}",
        "/api/v1/preferences",
    ):
        assert path in paths
    assert (await client.get("/docs")).status_code == 200


async def test_nul_characters_are_refused_before_reaching_the_database(
    client: httpx.AsyncClient, service_headers: dict[str, str], jwt: JwtSettings
) -> None:
    assert_error(
        await client.put("/api/v1/subscribers/a%00b", json={"name": "x"}, headers=service_headers),
        422,
        "validation_error",
    )
    assert_error(
        await client.put(
            "/api/v1/subscribers/someone", json={"name": "a\u0000b"}, headers=service_headers
        ),
        422,
        "validation_error",
    )
    assert_error(
        await client.get("/api/v1/internal/users/a%00b/events", headers=service_headers),
        422,
        "validation_error",
    )
    nul_sub = mint_token(jwt, "user\u0000x")
    assert_error(
        await client.get("/api/v1/notifications", headers={"Authorization": f"Bearer {nul_sub}"}),
        401,
        "invalid_token_payload",
    )


async def test_readiness_fails_with_503_when_the_broker_is_unreachable(settings: Settings) -> None:
    no_broker = settings.model_copy(
        update={
            "amqp_url": f"amqp://guest:guest@127.0.0.1:{free_port()}/",
            "relay_enabled": False,
            "incidents_enabled": False,
            "deliveries_enabled": False,
        }
    )
    async with serving(create_app(no_broker), "http://notification.test") as client:
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"] == {"database": True, "broker": False}
        assert ready.json()["error"]["code"] == "not_ready"


async def test_unsubscribe_without_a_configured_secret_is_a_404_json_error(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    assert settings.unsubscribe_secret is None
    for method in ("GET", "POST"):
        response = await client.request(method, "/api/v1/unsubscribe", params={"token": "x.y"})
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "unsubscribe_disabled"


async def test_a_catch_up_position_beyond_bigint_is_a_422_not_a_database_error(
    client: httpx.AsyncClient, service_headers: dict[str, str]
) -> None:
    url = f"/api/v1/internal/users/{new_user()}/events"
    too_far = await client.get(url, params={"after_seq": 2**63}, headers=service_headers)
    assert too_far.status_code == 422, too_far.text
    assert too_far.json()["error"]["code"] == "validation_error"
    last = await client.get(url, params={"after_seq": 2**63 - 1}, headers=service_headers)
    assert last.status_code == 200, last.text
