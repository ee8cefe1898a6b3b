"""Internal calls between Tocsin's services (scope `events:read` only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from contracts.events import SEQ_MAX
from services.notification.auth import EventReader
from services.notification.payloads import (
    EVENTS_PAGE_MAX,
    NO_NUL_PATTERN,
    USER_ID_MAX,
    EventsPage,
    LatestSeqs,
    LatestSeqsRequest,
)
from services.notification.routes.dependencies import Service

router = APIRouter(prefix="/internal", tags=["internal"])


@router.get("/users/{user_id}/events", response_model=EventsPage)
async def user_events(
    user_id: Annotated[str, Path(min_length=1, max_length=USER_ID_MAX, pattern=NO_NUL_PATTERN)],
    caller: EventReader,
    service: Service,
    after_seq: Annotated[int, Query(ge=0, le=SEQ_MAX)] = 0,  # above: 422, not a DB error
    limit: Annotated[int, Query(ge=1, le=EVENTS_PAGE_MAX)] = 100,
) -> dict[str, Any]:
    """The user's events with `seq > after_seq`, in seq order, at most `limit`.

    `complete` is false when more events follow (the caller should reload rather than replay).
    """
    events, latest, complete = await service.events_after(user_id, after_seq, limit)
    return {"events": events, "latest_seq": latest, "complete": complete}


@router.post("/latest-seqs", response_model=LatestSeqs)
async def latest_seqs(
    body: LatestSeqsRequest, caller: EventReader, service: Service
) -> dict[str, Any]:
    """Each user's latest seq (0 for a user without events), for up to 1000 users at once: the
    realtime service's answer for sockets that connect without `since`."""
    return {"seqs": await service.latest_seqs(body.user_ids)}
