"""Channel subscriptions under attack, against production-like processes (RS256 with audience
and issuer): forged and misused channel tokens, odd channel names, and strangers at an incident
channel. Every refusal is an `error` with a stable code and the socket stays open."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from jose import jwt

from identity import JwtSettings
from identity.channel_tokens import mint_channel_token
from tests.realtime.channels.helpers import round_trip, subscribe
from tests.realtime.sockets import Tab
from tests.support.hostile_system import AUDIENCE, ISSUER
from tests.support.system import System
from tests.support.users import new_user

CHANNEL = "board:war-room"


def token_of(system: System, user: str) -> str:
    return system.user_headers(user)["Authorization"].removeprefix("Bearer ")


def _claims(user: str, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"sub": user, "channel": CHANNEL, "exp": now + 600, "aud": AUDIENCE, "iss": ISSUER}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hs256(claims: dict[str, Any], key: bytes) -> str:
    """Algorithm confusion: HS256 with the RS256 public key as the HMAC secret."""
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    signing = f"{header}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(key, signing.encode(), hashlib.sha256).digest()
    return f"{signing}.{_b64(signature)}"


def _unsigned(claims: dict[str, Any]) -> str:
    header = _b64(json.dumps({"alg": "none"}).encode())
    return f"{header}.{_b64(json.dumps(claims).encode())}."


async def test_forged_or_misused_channel_tokens_are_refused(
    hostile_system: System, jwt_keys: JwtSettings
) -> None:
    user = new_user()
    tab = await Tab.open(f"{hostile_system.ws_url()}?token={token_of(hostile_system, user)}")
    await tab.established()
    private = jwt_keys.private_key
    assert private is not None and jwt_keys.public_key is not None
    forged = {
        "HS256 signed with the public key": _hs256(_claims(user), jwt_keys.public_key.encode()),
        "no exp": jwt.encode(_claims(user, exp=None), private, algorithm="RS256"),
        "exp a year away": jwt.encode(
            _claims(user, exp=int(time.time()) + 365 * 86400), private, algorithm="RS256"
        ),
        "another audience": jwt.encode(_claims(user, aud="other"), private, algorithm="RS256"),
        "another issuer": jwt.encode(_claims(user, iss="https://evil"), private, algorithm="RS256"),
        "channel as a list": jwt.encode(
            _claims(user, channel=[CHANNEL]), private, algorithm="RS256"
        ),
        "a prefix of the channel": jwt.encode(
            _claims(user, channel="board:war"), private, algorithm="RS256"
        ),
        "unsigned": _unsigned(_claims(user)),
    }
    for why, token in forged.items():
        answer = await subscribe(tab, CHANNEL, token=token)
        assert answer["event"] == "error", why
        assert answer["data"]["code"] == "forbidden_channel", why
        assert token not in json.dumps(answer), why  # never echoed
    genuine = await subscribe(tab, CHANNEL, token=mint_channel_token(jwt_keys, user, CHANNEL))
    assert genuine["event"] == "subscribed"
    await tab.close()


async def test_odd_channel_names_get_stable_codes_and_the_socket_stays_open(
    hostile_system: System,
) -> None:
    tab = await Tab.open(f"{hostile_system.ws_url()}?token={token_of(hostile_system, new_user())}")
    await tab.established()
    odd = [
        "incident:\u0000",
        "incident\uff1a42",  # a full-width colon
        " incident:42",
        "incident:42 ",
        "incident:\u0130",
        "INCIDENT:42",
        "incident:",
        ":42",
        "incident:4/2",
        "incident:..%2f",
    ]
    for name in odd:
        errors = len(tab.events("error"))
        await tab.send({"type": "subscribe", "channel": name})
        await tab.wait_for(name, lambda _, e=errors: len(tab.events("error")) > e)
        assert tab.events("error")[-1]["data"]["code"] == "unknown_channel", name
    await tab.send('{"type": "subscribe", "channel": "incident:\\ud800"}')  # a lone surrogate
    await tab.send({"type": "subscribe", "channel": "x" * 10_000})
    await tab.send({"type": "subscribe", "channel": {"$ne": None}})
    await tab.wait_for("three more errors", lambda _: len(tab.events("error")) >= len(odd) + 3)
    codes = [e["data"]["code"] for e in tab.events("error")[len(odd) :]]
    assert codes == ["invalid_json", "bad_channel_request", "bad_channel_request"]
    await round_trip(tab)
    assert not tab.events("subscribed")
    await tab.close()
