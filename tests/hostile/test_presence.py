"""Presence against real processes configured as in production (RS256, audience, issuer):
forged tokens are refused, a person learns nothing about anyone else's presence, a scope
grants only its name, and odd `user_ids` are a 422, never a 500."""

from __future__ import annotations

import httpx
from jose import jwt

from identity.channel_tokens import mint_channel_token
from identity.tokens import ADMIN_SCOPE, EVENTS_READ_SCOPE, PRESENCE_READ_SCOPE, WRITE_SCOPE
from tests.hostile.test_tokens import claims, forged
from tests.realtime.sockets import Tab
from tests.support.system import System
from tests.support.users import new_user
from tests.support.waiting import eventually

PATHS = (
    "/api/v1/presence?user_ids=victim",
    "/api/v1/presence/users",
    "/api/v1/channels/board:war-room/presence",
)


async def get(system: System, path: str, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    async with httpx.AsyncClient(base_url=system.realtime_url(), timeout=10) as client:
        return await client.get(path, headers=headers)


async def test_forged_tokens_never_read_presence(hostile_system: System) -> None:
    for why, (token, status, code, _) in forged(hostile_system.jwt).items():
        for path in PATHS:
            response = await get(hostile_system, path, token)
            assert (response.status_code, response.json()["error"]["code"]) == (status, code), (
                why,
                path,
            )


async def test_a_person_or_another_scope_learns_nothing_about_others(
    hostile_system: System,
) -> None:
    keys = hostile_system.jwt
    assert keys.private_key
    victim, mallory = new_user(), new_user()
    tab = await Tab.open(
        f"{hostile_system.ws_url()}?token={jwt.encode(claims(victim), keys.private_key, 'RS256')}"
    )
    await tab.established()

    def token(sub: str, *scopes: str) -> str:
        extra = {"scope": " ".join(scopes)} if scopes else {}
        return jwt.encode(claims(sub, **extra), keys.private_key, algorithm="RS256")

    reader = token("svc-push", PRESENCE_READ_SCOPE)
    await eventually(
        lambda: get(hostile_system, f"/api/v1/presence?user_ids={victim}", reader),
        lambda r: r.status_code == 200 and r.json()["users"] == {victim: True},
        what="the victim online for a presence:read service",
    )
    for caller in (
        token(mallory),
        token("svc", WRITE_SCOPE),
        token("svc", EVENTS_READ_SCOPE),
        token("admin", ADMIN_SCOPE),  # administering notifications is not reading presence
    ):
        for path in (
            f"/api/v1/presence?user_ids={victim}",
            f"/api/v1/presence?user_ids={mallory},{victim}",
            "/api/v1/presence/users",
        ):
            response = await get(hostile_system, path, caller)
            assert response.status_code == 403, (path, response.text)
            assert response.json()["error"]["code"] == "insufficient_scope"
            assert victim not in response.text
    own = await get(hostile_system, f"/api/v1/presence?user_ids={mallory}", token(mallory))
    assert own.json() == {"users": {mallory: False}}
    channel = "board:war-room"
    async with httpx.AsyncClient(base_url=hostile_system.realtime_url(), timeout=10) as client:
        foreign = await client.get(
            f"/api/v1/channels/{channel}/presence",
            headers={
                "Authorization": f"Bearer {token(mallory)}",
                "X-Channel-Token": mint_channel_token(keys, victim, channel),
            },
        )
    assert (foreign.status_code, foreign.json()["error"]["code"]) == (404, "channel_not_found")
    await tab.close()


async def test_odd_user_ids_are_a_422_never_a_500(hostile_system: System) -> None:
    keys = hostile_system.jwt
    assert keys.private_key
    reader = jwt.encode(
        claims("svc-push", scope=PRESENCE_READ_SCOPE), keys.private_key, algorithm="RS256"
    )
    for raw in ("%00", "a%00b", "%ED%A0%80", "%FF", "%E2%80%AE", "%0D%0A", "," * 200, "x" * 300):
        response = await get(hostile_system, f"/api/v1/presence?user_ids={raw}", reader)
        assert response.status_code == 422, (raw, response.text)
        assert response.json()["error"]["code"] in ("invalid_user_ids", "too_many_user_ids")
    for channel in ("nocolon", "UPPER:x", "a:" + "x" * 300, "%00:x"):
        response = await get(hostile_system, f"/api/v1/channels/{channel}/presence", reader)
        assert response.status_code == 422, (channel, response.text)
        assert response.json()["error"]["code"] == "unknown_channel"
