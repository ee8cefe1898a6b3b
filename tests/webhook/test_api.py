"""The endpoint registration API as its callers see it: who may do what, what is returned,
and errors as `{"error": {"code", "message"}}`."""

from __future__ import annotations

from tests.support.users import new_user
from tests.support.webhook_service import WebhookService, service_token, user_token

ENDPOINTS = "/api/v1/webhooks/endpoints"


async def test_registration_returns_a_whsec_secret_once(service: WebhookService) -> None:
    user = new_user()
    response = await service.http.post(
        ENDPOINTS,
        json={"url": "https://hooks.example.com/tocsin", "description": "ops"},
        headers=user_token(user),
    )

    assert response.status_code == 201, response.text
    created = response.json()
    assert created["secret"].startswith("whsec_")
    assert created["scope"] == "user"
    assert created["user_id"] == user
    assert created["event_types"] == ["notification.created"]
    assert created["enabled"] is True
    fetched = await service.http.get(f"{ENDPOINTS}/{created['id']}", headers=user_token(user))
    assert fetched.status_code == 200
    assert "secret" not in fetched.json()
    listed = await service.http.get(ENDPOINTS, headers=user_token(user))
    assert [e["id"] for e in listed.json()] == [created["id"]]
    assert "secret" not in listed.json()[0]


async def test_users_see_and_change_only_their_own_endpoints(service: WebhookService) -> None:
    owner, stranger = new_user(), new_user()
    created = (
        await service.http.post(
            ENDPOINTS, json={"url": "https://a.example.com/"}, headers=user_token(owner)
        )
    ).json()
    path = f"{ENDPOINTS}/{created['id']}"

    for method in ("GET", "DELETE"):
        response = await service.http.request(method, path, headers=user_token(stranger))
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "endpoint_not_found"
    response = await service.http.patch(path, json={"enabled": False}, headers=user_token(stranger))
    assert response.status_code == 404
    response = await service.http.post(f"{path}/secret/rotate", headers=user_token(stranger))
    assert response.status_code == 404
    assert (await service.http.get(ENDPOINTS, headers=user_token(stranger))).json() == []
    response = await service.http.post(
        ENDPOINTS,
        json={"url": "https://a.example.com/", "user_id": owner},
        headers=user_token(stranger),
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


async def test_global_endpoints_need_the_write_scope(service: WebhookService) -> None:
    body = {"url": "https://global.example.com/", "scope": "global", "event_types": ["*"]}
    response = await service.http.post(ENDPOINTS, json=body, headers=user_token(new_user()))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"

    response = await service.http.post(ENDPOINTS, json=body, headers=service_token())
    assert response.status_code == 201, response.text
    assert response.json()["scope"] == "global"
    assert response.json()["user_id"] is None


async def test_patch_disables_and_re_enables_and_delete_removes(service: WebhookService) -> None:
    user = new_user()
    headers = user_token(user)
    created = (
        await service.http.post(ENDPOINTS, json={"url": "https://b.example.com/"}, headers=headers)
    ).json()
    path = f"{ENDPOINTS}/{created['id']}"

    disabled = await service.http.patch(path, json={"enabled": False}, headers=headers)
    assert disabled.json()["enabled"] is False
    assert disabled.json()["disabled_reason"] == "disabled by a user"
    enabled = await service.http.patch(
        path, json={"enabled": True, "event_types": ["*"]}, headers=headers
    )
    assert enabled.json()["enabled"] is True
    assert enabled.json()["disabled_reason"] is None
    assert enabled.json()["event_types"] == ["*"]
    assert (await service.http.get(f"{path}/attempts", headers=headers)).json() == []

    assert (await service.http.delete(path, headers=headers)).status_code == 204
    assert (await service.http.get(path, headers=headers)).status_code == 404


async def test_bad_input_gets_a_json_4xx_never_a_500(service: WebhookService) -> None:
    headers = user_token(new_user())
    cases = [
        ({"url": "https://c.example.com/", "event_types": ["incident.created"]}, "invalid_request"),
        ({"url": "https://c.example.com/", "event_types": []}, "invalid_request"),
        ({"url": "gopher://c.example.com/"}, "invalid_url"),
        ({"url": "https://user:pw@c.example.com/"}, "invalid_url"),
        ({"url": "not a url"}, "invalid_url"),
        ({"url": "https://exa mple.com/"}, "invalid_url"),
        ({"url": "https://c.example.com/", "scope": "galaxy"}, "invalid_request"),
        ({}, "invalid_request"),
    ]
    for body, code in cases:
        response = await service.http.post(ENDPOINTS, json=body, headers=headers)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["error"]["code"] == code, body
    response = await service.http.post(ENDPOINTS, content=b"{", headers=headers)
    assert response.status_code == 422
    response = await service.http.get(f"{ENDPOINTS}/nope/attempts", headers=headers)
    assert response.status_code == 404


async def test_requests_without_a_valid_token_are_refused(service: WebhookService) -> None:
    response = await service.http.get(ENDPOINTS)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "missing_token"
    response = await service.http.get(ENDPOINTS, headers={"authorization": "Bearer nope"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"


async def test_health_readiness_and_metrics(service: WebhookService) -> None:
    assert (await service.http.get("/healthz")).status_code == 200
    ready = await service.http.get("/readyz")
    assert ready.status_code == 200, ready.text
    metrics = await service.http.get("/metrics")
    assert "tocsin_webhook_attempts" in metrics.text
    assert "tocsin_webhook_messages" in metrics.text
