"""The incident projection over HTTP.

`GET /incidents/{id}` (a user token): state + timeline for a page's first load, for the people
the incident's events named, or a token with `notifications:admin`; anyone else 404.
`GET /internal/incidents/{id}/updates` (`events:read`): the realtime service's access check and
catch-up for channel `incident:<id>`, for `user_id` (or, without it, for an admin's socket).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from contracts.channels import IncidentState, IncidentUpdated
from contracts.events import SEQ_MAX
from identity.tokens import ADMIN_SCOPE
from services.notification.auth import EventReader, User
from services.notification.incidents import reads
from services.notification.payloads import EVENTS_PAGE_MAX, NO_NUL_PATTERN, USER_ID_MAX

router = APIRouter(tags=["incidents"])

IncidentId = Annotated[str, Path(min_length=1, max_length=200, pattern=NO_NUL_PATTERN)]


class IncidentView(BaseModel):
    incident: IncidentState
    seq: int = Field(description="The incident's latest seq: subscribe with it as `since`.")
    timeline: list[IncidentUpdated] = Field(description="Oldest first, the newest 1000.")


class IncidentUpdatesPage(BaseModel):
    updates: list[IncidentUpdated]
    latest_seq: int
    complete: bool = Field(description="False when more updates follow the last one returned.")


@router.get("/incidents/{incident_id}", response_model=IncidentView)
async def incident(incident_id: IncidentId, caller: User, request: Request) -> dict[str, Any]:
    """The incident's state and timeline; 404 `incident_not_found` for anyone it never named."""
    user = None if caller.has_scope(ADMIN_SCOPE) else caller.user_id
    return await reads.incident(request.app.state.service.engine, incident_id, user)


@router.get("/internal/incidents/{incident_id}/updates", response_model=IncidentUpdatesPage)
async def incident_updates(
    incident_id: IncidentId,
    caller: EventReader,
    request: Request,
    user_id: Annotated[
        str | None, Query(min_length=1, max_length=USER_ID_MAX, pattern=NO_NUL_PATTERN)
    ] = None,
    after_seq: Annotated[int | None, Query(ge=0, le=SEQ_MAX)] = None,
    limit: Annotated[int, Query(ge=1, le=EVENTS_PAGE_MAX)] = 100,
) -> dict[str, Any]:
    """404 unless `user_id` may see the incident (without `user_id`: unless it exists); else
    the updates after `after_seq` (none without it) and the latest seq."""
    engine = request.app.state.service.engine
    page = await reads.updates_after(engine, incident_id, user_id, after_seq, limit)
    return {"updates": page.updates, "latest_seq": page.latest_seq, "complete": page.complete}
