"""JWT attacks against the REST API and the WebSocket handshake of real processes configured
with RS256 (public key only), an audience and an issuer. Each forged token is refused with the
documented status and code (REST) or close code (WebSocket)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
import pytest
from jose import jwt
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from identity import InvalidToken, JwtSettings, verify_token
from identity.settings import JwtEnvSettings
from identity.tokens import WRITE_SCOPE
from tests.realtime.sockets import Tab
from tests.support.hostile_system import AUDIENCE, ISSUER, rsa_pair
from tests.support.system import System
from tests.support.users import new_user


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def claims(sub: str | None = "victim", **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {"iat": now, "exp": now + 300, "aud": AUDIENCE, "iss": ISSUER}
    if sub is not None:
        base["sub"] = sub
    return {**base, **extra}


def without(payload: dict[str, Any], name: str) -> dict[str, Any]:
    return {key: value for key, value in payload.items() if key != name}


def forged(keys: JwtSettings) -> dict[str, tuple[str, int, str, int]]:
    """name → (token, REST status, REST code, WebSocket close code)."""
    assert keys.private_key and keys.public_key
    other_private, _ = rsa_pair()
    now = int(time.time())
    none_token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims())}."
    confusion = hmac_with_public_key(keys.public_key, claims())
    sign = lambda c: jwt.encode(c, keys.private_key, algorithm="RS256")  # noqa: E731
    return {
        "alg none": (none_token, 401, "invalid_token", 4002),
        "HS256 signed with the RS256 public key": (confusion, 401, "invalid_token", 4002),
        "signed by another key": (
            jwt.encode(claims(), other_private, algorithm="RS256"),
            401,
            "invalid_token",
            4002,
        ),
        "expired": (sign(claims(exp=now - 60, iat=now - 600)), 401, "invalid_token", 4002),
        "not yet valid": (sign(claims(nbf=now + 600)), 401, "invalid_token", 4002),
        "wrong audience": (sign(claims(aud="someone-else")), 401, "invalid_token", 4002),
        "wrong issuer": (sign(claims(iss="https://evil.test")), 401, "invalid_token", 4002),
        "no sub": (sign(claims(sub=None)), 401, "invalid_token_payload", 4003),
        "empty sub": (sign(claims(sub="")), 401, "invalid_token_payload", 4003),
        "garbage": ("not.a.jwt", 401, "invalid_token", 4002),
        # A token must carry a numeric `exp`, at most JWT_MAX_LIFETIME_S (a day) away.
        "exp null": (sign(claims(exp=None)), 401, "invalid_token", 4002),
        "exp a string": (sign(claims(exp=str(now + 300))), 401, "invalid_token", 4002),
        "exp true": (sign(claims(exp=True)), 401, "invalid_token", 4002),
        "no exp": (sign(without(claims(), "exp")), 401, "invalid_token", 4002),
        "exp a year away": (sign(claims(exp=now + 365 * 86400)), 401, "invalid_token", 4002),
        "iat null": (sign(claims(iat=None)), 401, "invalid_token", 4002),
        "sub with NUL": (sign(claims(sub="vic\x00tim")), 401, "invalid_token_payload", 4003),
        "sub with a lone surrogate": (
            sign(claims(sub="vic\ud800tim")),
            401,
            "invalid_token_payload",
            4003,
        ),
        "tampered payload": (
            ".".join([sign(claims()).split(".")[0], _b64(claims(sub="admin")), "sig"]),
            401,
            "invalid_token",
            4002,
        ),
    }


def hmac_with_public_key(public_pem: str, payload: dict[str, Any]) -> str:
    """The classic algorithm-confusion token: HS256 whose HMAC key is the RS256 public key
    (PyJWT refuses to do this itself, so it is built by hand)."""
    import hashlib
    import hmac

    signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT'})}.{_b64(payload)}"
    digest = hmac.new(public_pem.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(digest).rstrip(b'=').decode()}"


async def test_forged_tokens_are_refused_by_every_rest_endpoint_kind(
    hostile_system: System, jwt_keys: JwtSettings
) -> None:
    async with httpx.AsyncClient(base_url=hostile_system.api_url, timeout=10) as api:
        for name, (token, status, code, _) in forged(jwt_keys).items():
            headers = {"Authorization": f"Bearer {token}"}
            for method, path, body in (
                ("GET", "/api/v1/notifications", None),
                ("GET", "/api/v1/notifications/stats", None),
                ("POST", "/api/v1/notifications/read-all", None),
                ("POST", "/api/v1/notifications", {"recipients": ["victim"], "type": "x",
                                                   "priority": "high", "title": "forged"}),
                ("GET", "/api/v1/internal/users/victim/events", None),
            ):  # fmt: skip
                response = await api.request(method, path, json=body, headers=headers)
                assert response.status_code == status, (name, path, response.text)
                assert response.json()["error"]["code"] == code, (name, path, response.text)
    async with httpx.AsyncClient(base_url=hostile_system.webhook_url, timeout=10) as webhooks:
        for name, (token, status, code, _) in forged(jwt_keys).items():
            headers = {"Authorization": f"Bearer {token}"}
            response = await webhooks.get("/api/v1/webhooks/endpoints", headers=headers)
            assert response.status_code == status, (name, response.text)
            assert response.json()["error"]["code"] == code, (name, response.text)


async def test_forged_tokens_are_closed_with_their_code_by_the_websocket(
    hostile_system: System, jwt_keys: JwtSettings
) -> None:
    for name, (token, _, _, close_code) in forged(jwt_keys).items():
        async with connect(f"{hostile_system.ws_url()}?token={token}", open_timeout=10) as ws:
            with pytest.raises(ConnectionClosed):
                message = json.loads(await ws.recv())
                pytest.fail(f"{name}: got {message}")
            assert ws.close_code == close_code, (name, ws.close_code, ws.close_reason)
    async with connect(hostile_system.ws_url(), open_timeout=10) as ws:
        with pytest.raises(ConnectionClosed):
            await ws.recv()
        assert ws.close_code == 4001


async def test_user_tokens_cannot_use_service_endpoints(
    hostile_system: System, jwt_keys: JwtSettings
) -> None:
    user = new_user()
    headers = hostile_system.user_headers(user)
    async with httpx.AsyncClient(timeout=10) as http:
        api = hostile_system.api_url
        calls = [
            ("POST", f"{api}/api/v1/notifications", {"recipients": [user], "type": "x",
                                                      "priority": "high", "title": "self"}),
            ("PUT", f"{api}/api/v1/subscribers/{user}", {"email": "a@b.test"}),
            ("GET", f"{api}/api/v1/internal/users/{user}/events", None),
            ("GET", f"{api}/api/v1/internal/users/someone-else/events", None),
        ]  # fmt: skip
        for method, url, body in calls:
            response = await http.request(method, url, json=body, headers=headers)
            assert response.status_code == 403, (url, response.text)
            assert response.json()["error"]["code"] == "insufficient_scope", response.text
        # A service token is not a user: it sees no one's notifications but its own sub's.
        service = jwt.encode(
            claims(sub="svc-x", scope=WRITE_SCOPE), jwt_keys.private_key, algorithm="RS256"
        )
        listing = await http.get(
            f"{api}/api/v1/notifications", headers={"Authorization": f"Bearer {service}"}
        )
        assert listing.status_code == 200 and listing.json()["items"] == []


async def test_an_in_band_auth_without_exp_does_not_cancel_the_expiry(
    hostile_system: System, jwt_keys: JwtSettings
) -> None:
    user = new_user()
    now = int(time.time())
    sign = lambda c: jwt.encode(c, jwt_keys.private_key, algorithm="RS256")  # noqa: E731
    tab = await Tab.open(f"{hostile_system.ws_url()}?token={sign(claims(user, exp=now + 4))}")
    try:
        await tab.established()
        await tab.send({"type": "auth", "token": sign(without(claims(user), "exp"))})
        errors = await tab.wait_for(
            "an error", lambda ms: any(m["event"] == "error" for m in ms), timeout=10
        )
        assert errors[-1]["data"]["code"] == "invalid_token", errors
        assert await tab.closed(timeout=20) == 4002, tab.close_reason
    finally:
        await tab.close()


def test_exp_rules_can_be_relaxed_only_explicitly(monkeypatch: pytest.MonkeyPatch) -> None:
    keys = JwtSettings(secret="relaxed-secret-for-this-test")
    no_exp = jwt.encode({"sub": "ada"}, keys.secret, algorithm="HS256")
    far = jwt.encode({"sub": "ada", "exp": int(time.time()) + 365 * 86400}, keys.secret)
    monkeypatch.setenv("JWT_SECRET", keys.secret or "")
    strict = JwtEnvSettings().jwt
    for token in (no_exp, far):
        with pytest.raises(InvalidToken):
            verify_token(token, strict)
    monkeypatch.setenv("JWT_REQUIRE_EXP", "false")
    monkeypatch.setenv("JWT_MAX_LIFETIME_S", "0")
    relaxed = JwtEnvSettings().jwt
    assert verify_token(no_exp, relaxed).expires_at is None
    assert verify_token(far, relaxed).user_id == "ada"
