"""The demo page server: the built demo page plus a few JSON routes under /demo."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field

from contracts.notifications import ENTITY_URL_MAX, MESSAGE_MAX, TITLE_MAX, Priority
from messaging.incidents import IncidentPublisher
from services.demo.incidents import DemoIncident, IncidentAction, InvalidAction
from services.demo.sending import ApiUnavailable, DemoUsers, NotificationSender, UnknownUser
from services.demo.settings import Settings

NOT_BUILT = """<!doctype html><title>Tocsin demo</title>
<p>The demo page is not built yet: run <code>npm ci && npm run build</code> in
<code>clients/web</code> (or <code>make run</code>), then reload.</p>"""


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user: str = Field(min_length=1, max_length=255)


class Draft(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=TITLE_MAX)
    message: str = Field(default="", max_length=MESSAGE_MAX)
    priority: Priority = Priority.NORMAL
    entity_url: str | None = Field(default=None, max_length=ENTITY_URL_MAX)

    def content(self, kind: str) -> dict[str, Any]:
        body = self.model_dump(mode="json", exclude_none=True)
        return {"type": kind, **body}


class SendRequest(Draft):
    user: str = Field(min_length=1, max_length=255)


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def create_app(settings: Settings) -> FastAPI:
    users = DemoUsers(settings.users, settings.jwt, settings.demo_token_ttl_s)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient(
            base_url=settings.notification_api_url.rstrip("/"),
            timeout=settings.request_timeout_s,
        ) as http:
            app.state.sender = NotificationSender(http, settings.jwt)
            publisher = IncidentPublisher(settings.amqp_url, namespace=settings.tocsin_namespace)
            app.state.incident = DemoIncident(settings.demo_incident_id, users.names, publisher)
            try:
                yield
            finally:
                await app.state.incident.close()

    app = FastAPI(title="Tocsin demo page", lifespan=lifespan, docs_url=None, redoc_url=None)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(422, "invalid_request", str(exc.errors()[0].get("msg", "invalid request")))

    @app.exception_handler(UnknownUser)
    async def unknown_user(_: Request, exc: UnknownUser) -> JSONResponse:
        return _error(404, exc.code, str(exc))

    @app.exception_handler(InvalidAction)
    async def invalid_action(_: Request, exc: InvalidAction) -> JSONResponse:
        return _error(422, exc.code, str(exc))

    @app.exception_handler(ApiUnavailable)
    async def api_unavailable(_: Request, exc: ApiUnavailable) -> JSONResponse:
        return _error(502, exc.code, exc.message)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/demo/config")
    async def config() -> dict[str, Any]:
        """Where the browser finds the API and the realtime service, and who can sign in."""
        return {
            "api_url": (settings.public_api_url or settings.notification_api_url).rstrip("/"),
            "ws_url": settings.public_ws_url.rstrip("/"),
            "users": users.names,
            "reconnect_interval_ms": settings.demo_reconnect_interval_ms,
            "reconnect_max_delay_ms": settings.demo_reconnect_max_delay_ms,
            "incident_id": settings.demo_incident_id,
        }

    @app.post("/demo/token")
    async def token(body: TokenRequest) -> dict[str, Any]:
        """A development token for a demo user (404 `unknown_user` for anyone else)."""
        value, ttl = users.token_for(body.user)
        return {"token": value, "expires_in": ttl}

    @app.post("/demo/send")
    async def send(body: SendRequest, request: Request) -> dict[str, int]:
        """A test notification for one demo user, created through the notification API."""
        users.token_for(body.user)  # raises UnknownUser
        content = Draft.model_validate(body.model_dump(exclude={"user"})).content("demo.test")
        created = await request.app.state.sender.send([body.user], content)
        return {"created": created}

    @app.post("/demo/broadcast")
    async def broadcast(body: Draft, request: Request) -> dict[str, int]:
        """The same notification for every demo user."""
        created = await request.app.state.sender.send(users.names, body.content("demo.broadcast"))
        return {"created": created}

    @app.post("/demo/incident", status_code=202)
    async def incident(body: IncidentAction, request: Request) -> dict[str, str]:
        """One change to the demo incident by a demo user, published as an incident event
        (every demo user is a watcher, so each may open the incident page)."""
        users.token_for(body.user)  # raises UnknownUser
        try:
            await request.app.state.incident.act(body)
        except InvalidAction:
            raise
        except Exception as exc:
            raise ApiUnavailable(
                "broker_unavailable", "the incident event was not published"
            ) from exc
        return {"incident_id": settings.demo_incident_id}

    if (settings.static_dir / "index.html").is_file():
        app.mount("/", StaticFiles(directory=settings.static_dir, html=True), name="demo")
    else:

        @app.get("/", response_class=HTMLResponse)
        async def not_built() -> str:
            return NOT_BUILT

    return app
