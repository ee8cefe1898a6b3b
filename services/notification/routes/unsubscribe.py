"""`/unsubscribe?token=...`: the link in every email's List-Unsubscribe header.

POST (RFC 8058 one-click, body `List-Unsubscribe=One-Click`, or the confirmation page's form)
turns the email channel off. GET only shows a confirmation page with that form: mail
scanners and link previewers fetch GET links on their own, and must not unsubscribe anyone.
A bad token is a 400 JSON error on both.
"""

from __future__ import annotations

from html import escape
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import HTMLResponse, Response

from services.notification.http_errors import JSONResponse
from services.notification.routes.dependencies import Service
from services.notification.unsubscribe import check_link

router = APIRouter(tags=["unsubscribe"])

Token = Annotated[str | None, Query(max_length=2048)]

PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width"><title>Tocsin: {title}</title></head>
<body style="font-family:sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem">
<h1 style="font-size:1.3rem">{title}</h1><p>{text}</p>{form}</body></html>"""


def _secret(request: Request) -> str | None:
    secret: str | None = request.app.state.settings.unsubscribe_secret
    return secret


@router.get("/unsubscribe", response_class=HTMLResponse)
async def confirm_page(request: Request, token: Token = None) -> Response:
    """A page asking to confirm; changes nothing."""
    wanted = check_link(_secret(request), token)
    form = (
        f'<form method="post" action="?token={escape(token or "")}">'
        '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
        '<button type="submit">Unsubscribe</button></form>'
    )
    text = f"Stop emails about “{escape(wanted.notification_type)}” notifications?"
    return HTMLResponse(PAGE.format(title="Unsubscribe", text=text, form=form))


@router.post("/unsubscribe")
async def unsubscribe(request: Request, service: Service, token: Token = None) -> Response:
    """Turn email off for the link's user and notification type (idempotent)."""
    done = check_link(_secret(request), token)
    await service.disable_email(done.user_id, done.notification_type)
    if "text/html" in request.headers.get("accept", ""):
        text = (
            f"You will no longer receive emails about “{escape(done.notification_type)}” "
            "notifications (critical ones excepted)."
        )
        return HTMLResponse(PAGE.format(title="Unsubscribed", text=text, form=""))
    return JSONResponse({"unsubscribed": True, "type": done.notification_type, "channel": "email"})
