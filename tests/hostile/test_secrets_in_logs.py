"""Tokens and secrets never reach a log. Every service runs as a real process at LOG_LEVEL=DEBUG;
the hostile probes that used to write them (a WebSocket handshake with `?token=` reaching the API
or the webhook service, a webhook registration that fails in the database with a fresh `whsec_`
secret among the SQL parameters, tokens in `Authorization`) run, and then every service's log is
searched for each token and secret the test used."""

from __future__ import annotations

import json
import re
import time
import traceback
from collections.abc import Iterator
from contextlib import suppress

import httpx
import pytest
import sqlalchemy as sa
from jose import jwt
from sqlalchemy.exc import DBAPIError
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from database.engine import create_engine
from identity import JwtSettings
from tests.realtime.sockets import Tab
from tests.support.hostile_system import AUDIENCE, ISSUER, hostile
from tests.support.system import System
from tests.support.users import new_user
from tests.support.waiting import eventually

WEBHOOK_SECRET = re.compile(r"whsec_[A-Za-z0-9+/=_-]{8,}")
JWT_SHAPE = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.")


@pytest.fixture(scope="module")
def logged_system(database_url: str, amqp_url: str, jwt_keys: JwtSettings) -> Iterator[System]:
    system = hostile(
        database_url,
        amqp_url,
        jwt_keys,
        log_level="DEBUG",
        email_enabled=True,
        # Registrations must get as far as the database: the local receiver is their target,
        # and the harness allows just that address (WEBHOOK_ALLOWED_PRIVATE_TARGETS).
        webhook_env={},
    )
    try:
        yield system.start()
    finally:
        system.stop()


def signed(keys: JwtSettings, sub: str, **extra: object) -> str:
    now = int(time.time())
    claims = {"sub": sub, "iat": now, "exp": now + 300, "aud": AUDIENCE, "iss": ISSUER, **extra}
    return jwt.encode(claims, keys.private_key, algorithm="RS256")


async def test_no_token_or_secret_used_by_the_probes_appears_in_any_log(
    logged_system: System, jwt_keys: JwtSettings
) -> None:
    system = logged_system
    user = new_user()
    user_token = system.user_headers(user)["Authorization"].removeprefix("Bearer ")
    service_token = system.service_headers()["Authorization"].removeprefix("Bearer ")
    tokens = [user_token, service_token, signed(jwt_keys, user, exp=None)]
    secrets: list[str] = []

    # WebSocket handshakes with the token in the query string, to every HTTP service.
    for base in (system.api_url, system.webhook_url, system.realtime_url()):
        for token in tokens:
            url = f"{base.replace('http', 'ws', 1)}/api/v1/ws/notifications?token={token}"
            with suppress(InvalidStatus, ConnectionClosed):  # refused or closed: either is fine
                async with connect(url, open_timeout=10) as ws:
                    await ws.recv()
    async with httpx.AsyncClient(timeout=10) as http:
        for base in (system.api_url, system.webhook_url):
            for token in tokens:
                await http.get(f"{base}/api/v1/notifications?token={token}")
                await http.get(
                    f"{base}/api/v1/webhooks/endpoints",
                    headers={"Authorization": f"Bearer {token}"},
                )
        owner = {"Authorization": f"Bearer {user_token}", "content-type": "application/json"}
        endpoints = f"{system.webhook_url}/api/v1/webhooks/endpoints"
        # Registrations whose insert fails in the database (with a new secret in its parameters).
        for description in ("nul \x00 here", "surrogate \ud800 here"):
            body = json.dumps({"url": system.receiver.url("failing"), "description": description})
            with suppress(httpx.HTTPError):  # what it answers is another test's business
                await http.post(endpoints, content=body.encode(), headers=owner)
        # A registration that works, and a rotation: secrets shown once, in the response only.
        created = await http.post(endpoints, json={"url": system.receiver.url(f"in-{user}")},
                                  headers=owner)  # fmt: skip
        assert created.status_code == 201, created.text
        system.receiver.secrets[f"in-{user}"] = created.json()["secret"]
        rotated = await http.post(
            f"{endpoints}/{created.json()['id']}/secret/rotate", headers=owner
        )
        assert rotated.status_code == 200, rotated.text
        secrets += [created.json()["secret"], rotated.json()["secret"]]
    # A delivery through email and webhooks, with a socket open: every service logs its work.
    system.subscribe(user)
    tab = await Tab.open(f"{system.ws_url()}?token={user_token}")
    await tab.established()
    async with httpx.AsyncClient(timeout=10) as http:
        sent = await http.post(
            f"{system.api_url}/api/v1/notifications",
            json={"recipients": [user], "type": "probe", "title": "probe"},
            headers=system.service_headers(),
        )
        assert sent.status_code == 201, sent.text
    await tab.wait_for("the notification", lambda ms: any(m["event"] == "notification:new"
                                                          for m in ms))  # fmt: skip
    await eventually(lambda: system.smtp.messages(), what="the email")
    await eventually(lambda: system.receiver.at(f"in-{user}"), what="the webhook")
    await tab.close()

    logs = system.logs()
    assert set(logs) >= {"notification", "realtime-0", "email", "webhook"}
    assert all(logs.values()), "every service wrote a log"
    for name, text in logs.items():
        for token in tokens:
            signature = token.rsplit(".", 1)[-1]
            assert token not in text and signature not in text, (name, "a token is logged")
        for secret in secrets:
            assert secret not in text, (name, "a webhook secret is logged")
        assert not WEBHOOK_SECRET.search(text), (name, WEBHOOK_SECRET.search(text))
        assert not JWT_SHAPE.search(text), (name, JWT_SHAPE.search(text))


async def test_database_errors_never_carry_sql_parameters(database_url: str) -> None:
    secret = "whsec_" + "s3cr3t" * 4
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        with pytest.raises(DBAPIError) as failure:
            async with engine.connect() as conn:
                await conn.execute(
                    sa.text("SELECT 1 / 0, CAST(:secret AS text)"), {"secret": secret}
                )
    finally:
        await engine.dispose()
    assert secret not in str(failure.value)
    assert secret not in "".join(traceback.format_exception(failure.value))
