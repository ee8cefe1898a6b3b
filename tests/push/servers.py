"""Local push services that implement the protocols and check what they receive.

- `WebPushService`: an RFC 8030 push service. It checks the VAPID header (RFC 8292: the JWT's
  ES256 signature against the `k` key, which must be the application server key the
  subscription was made with, and its `aud`, `exp`, `sub` claims), the headers of RFC 8030
  (`TTL`, `Urgency`, `Topic`) and decrypts the `aes128gcm` body (RFC 8291) with the
  subscription's private key and auth secret, as a browser would.
- `FcmService`: the OAuth 2.0 token endpoint (checks the RS256 JWT grant against the service
  account's public key) and the FCM HTTP v1 `messages:send` endpoint (bearer token, message
  shape).
- `ApnsService`: APNs over HTTP/2 (refuses HTTP/1.1), checks the ES256 provider token
  (`kid`, `iss`) and the `apns-*` headers.

Each answers 2xx unless a test scripted other replies for an address.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import secrets
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import http_ece
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypercorn.asyncio import serve
from hypercorn.config import Config
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.infra import free_port
from tests.support.waiting import eventually


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Reply:
    status: int = 201
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None


class LocalServer:
    """A hypercorn server (HTTP/1.1 and HTTP/2 with prior knowledge) on a free port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.scripts: dict[str, deque[Reply]] = defaultdict(deque)
        self.problems: list[str] = []
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def script(self, address: str, *replies: Reply | int) -> None:
        for reply in replies:
            self.scripts[address].append(reply if isinstance(reply, Reply) else Reply(reply))

    def next_reply(self, address: str, default: Reply) -> Reply:
        queue = self.scripts.get(address)
        return queue.popleft() if queue else default

    def app(self) -> Starlette:
        raise NotImplementedError

    async def start(self) -> LocalServer:
        config = Config()
        config.bind = [self.target]
        config.loglevel = "warning"
        config.accesslog = None
        self._task = asyncio.create_task(
            serve(self.app(), config, shutdown_trigger=self._stop.wait)  # type: ignore[arg-type]
        )

        async def listening() -> bool:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                return False
            writer.close()
            return True

        await eventually(listening, what=f"{type(self).__name__} listening")
        return self

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task


# --- Web Push ---------------------------------------------------------------------------


@dataclass
class BrowserSubscription:
    """What a browser holds for one push subscription: the endpoint and its private keys."""

    id: str
    endpoint: str
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes
    application_server_key: str

    def to_json(self) -> dict[str, Any]:
        public = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": b64url(public), "auth": b64url(self.auth)},
        }


@dataclass(frozen=True)
class WebPushReceived:
    subscription_id: str
    headers: dict[str, str]
    plaintext: bytes
    claims: dict[str, Any]
    replied: int
    at: float = field(default_factory=time.monotonic)
    """When it arrived (monotonic clock of the test process)."""

    @property
    def payload(self) -> Any:
        return json.loads(self.plaintext)


class WebPushService(LocalServer):
    def __init__(self) -> None:
        super().__init__()
        self.subscriptions: dict[str, BrowserSubscription] = {}
        self.received: list[WebPushReceived] = []

    def subscribe(self, application_server_key: str) -> BrowserSubscription:
        """What `PushManager.subscribe({applicationServerKey})` creates in a browser."""
        sub_id = secrets.token_urlsafe(12)
        subscription = BrowserSubscription(
            id=sub_id,
            endpoint=f"{self.origin}/push/{sub_id}",
            private_key=ec.generate_private_key(ec.SECP256R1()),
            auth=secrets.token_bytes(16),
            application_server_key=application_server_key,
        )
        self.subscriptions[sub_id] = subscription
        return subscription

    def at(self, subscription: BrowserSubscription) -> list[WebPushReceived]:
        return [r for r in self.received if r.subscription_id == subscription.id]

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/push/{sub_id}", self._push, methods=["POST"])])

    def _check(self, request: Request, subscription: BrowserSubscription) -> dict[str, Any]:
        """Raises ValueError naming what is wrong with the request's VAPID and headers."""
        scheme, _, params = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "vapid":
            raise ValueError(f"authorization scheme {scheme!r} is not vapid")
        parts = dict(p.strip().split("=", 1) for p in params.split(","))
        if parts.get("k") != subscription.application_server_key:
            raise ValueError("k is not the subscription's application server key")
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(parts["k"]))
        claims: dict[str, Any] = jwt.decode(
            parts["t"], public, algorithms=["ES256"], audience=self.origin
        )
        if not 0 < claims["exp"] - time.time() <= 24 * 3600:
            raise ValueError("exp is not within 24 hours")
        if not str(claims.get("sub", "")).startswith(("mailto:", "https:")):
            raise ValueError("sub is not a mailto: or https: contact")
        if request.headers.get("content-encoding") != "aes128gcm":
            raise ValueError("content-encoding is not aes128gcm")
        if not request.headers.get("ttl", "").isdigit():
            raise ValueError("TTL header missing")
        if request.headers.get("urgency", "normal") not in ("very-low", "low", "normal", "high"):
            raise ValueError("bad Urgency")
        topic = request.headers.get("topic")
        if topic is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", topic):
            raise ValueError("Topic is not at most 32 base64url characters")
        return claims

    async def _push(self, request: Request) -> Response:
        sub_id = request.path_params["sub_id"]
        subscription = self.subscriptions.get(sub_id)
        body = await request.body()
        if subscription is None:
            return Response(status_code=404)
        try:
            claims = self._check(request, subscription)
        except (ValueError, KeyError, jwt.PyJWTError) as exc:
            self.problems.append(f"{sub_id}: {exc}")
            return JSONResponse({"reason": str(exc)}, status_code=401)
        if len(body) > 4096:
            self.problems.append(f"{sub_id}: body of {len(body)} bytes")
            return Response(status_code=413)
        plaintext = http_ece.decrypt(
            body,
            private_key=subscription.private_key,
            auth_secret=subscription.auth,
            version="aes128gcm",
        )
        reply = self.next_reply(sub_id, Reply(201))
        headers = {k.lower(): v for k, v in request.headers.items()}
        headers["x-test-arrived-at"] = datetime.now(UTC).isoformat()
        self.received.append(WebPushReceived(sub_id, headers, plaintext, claims, reply.status))
        return Response(status_code=reply.status, headers=reply.headers)


# --- FCM --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FcmReceived:
    token: str
    message: dict[str, Any]
    replied: int


class FcmService(LocalServer):
    PROJECT = "tocsin-test"

    def __init__(self) -> None:
        super().__init__()
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.client_email = "push@tocsin-test.iam.gserviceaccount.com"
        self.access_tokens: set[str] = set()
        self.grants = 0
        self.received: list[FcmReceived] = []

    def credentials(self) -> str:
        pem = self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        return json.dumps(
            {
                "type": "service_account",
                "project_id": self.PROJECT,
                "private_key_id": "k1",
                "private_key": pem,
                "client_email": self.client_email,
                "token_uri": f"{self.origin}/token",
            }
        )

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/token", self._token, methods=["POST"]),
                Route("/v1/projects/{project}/messages:send", self._send, methods=["POST"]),
            ]
        )

    async def _token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        try:
            if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
                raise ValueError("wrong grant_type")
            claims = jwt.decode(
                str(form.get("assertion")),
                self.key.public_key(),
                algorithms=["RS256"],
                audience=f"{self.origin}/token",
            )
            if claims["iss"] != self.client_email:
                raise ValueError("iss is not the service account")
            if "firebase.messaging" not in claims["scope"]:
                raise ValueError("scope lacks firebase.messaging")
        except (ValueError, KeyError, jwt.PyJWTError) as exc:
            self.problems.append(f"token: {exc}")
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        token = secrets.token_urlsafe(24)
        self.access_tokens.add(token)
        self.grants += 1
        return JSONResponse({"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    async def _send(self, request: Request) -> Response:
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        if request.path_params["project"] != self.PROJECT or bearer not in self.access_tokens:
            self.problems.append("send: wrong project or access token")
            return JSONResponse({"error": {"code": 401, "status": "UNAUTHENTICATED"}}, 401)
        message = (await request.json()).get("message", {})
        token = message.get("token", "")
        shape_ok = (
            isinstance(message.get("notification", {}).get("title"), str)
            and all(isinstance(v, str) for v in message.get("data", {}).values())
            and message.get("android", {}).get("ttl", "").endswith("s")
        )
        if not token or not shape_ok:
            self.problems.append(f"send: bad message {message}")
            return JSONResponse({"error": {"code": 400, "status": "INVALID_ARGUMENT"}}, 400)
        reply = self.next_reply(token, Reply(200))
        self.received.append(FcmReceived(token, message, reply.status))
        body = reply.body or {"name": f"projects/{self.PROJECT}/messages/{secrets.token_hex(8)}"}
        return JSONResponse(body, status_code=reply.status, headers=reply.headers)


def fcm_error(status: int, code: str, error_code: str | None = None) -> Reply:
    details = (
        [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": error_code}]
        if error_code
        else []
    )
    return Reply(status, body={"error": {"code": status, "status": code, "details": details}})


# --- APNs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApnsReceived:
    token: str
    headers: dict[str, str]
    body: dict[str, Any]
    replied: int


class ApnsService(LocalServer):
    KEY_ID = "ABC123DEFG"
    TEAM_ID = "TEAM123456"

    def __init__(self) -> None:
        super().__init__()
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.received: list[ApnsReceived] = []

    def signing_key(self) -> str:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/3/device/{token}", self._push, methods=["POST"])])

    async def _push(self, request: Request) -> Response:
        token = request.path_params["token"]
        try:
            if request.scope.get("http_version") != "2":
                raise ValueError(f"HTTP/{request.scope.get('http_version')}, not HTTP/2")
            scheme, _, provider_token = request.headers.get("authorization", "").partition(" ")
            if scheme != "bearer":
                raise ValueError("authorization is not a bearer token")
            if jwt.get_unverified_header(provider_token).get("kid") != self.KEY_ID:
                raise ValueError("kid is not the key id")
            claims = jwt.decode(provider_token, self.key.public_key(), algorithms=["ES256"])
            if claims.get("iss") != self.TEAM_ID or not isinstance(claims.get("iat"), int):
                raise ValueError("iss/iat wrong")
            for header in ("apns-topic", "apns-push-type", "apns-expiration", "apns-priority"):
                if not request.headers.get(header):
                    raise ValueError(f"{header} missing")
        except (ValueError, jwt.PyJWTError) as exc:
            self.problems.append(f"{token[:8]}: {exc}")
            return JSONResponse({"reason": "InvalidProviderToken"}, status_code=403)
        body = await request.json()
        reply = self.next_reply(token, Reply(200))
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.received.append(ApnsReceived(token, headers, body, reply.status))
        return (
            JSONResponse(
                reply.body, status_code=reply.status, headers={"apns-id": secrets.token_hex(8)}
            )
            if reply.body is not None
            else Response(status_code=reply.status)
        )
