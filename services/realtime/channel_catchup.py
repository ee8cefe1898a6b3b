"""Asking the notification service about an `incident:` channel: may this user subscribe, and
what did they miss (`GET /api/v1/internal/incidents/{id}/updates`, the catch-up's slots and
service token). One request answers both, after the channel's binding is in place, so an
update committed meanwhile is in the page, arrives live, or both (the seq filter keeps one).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from pydantic import BaseModel, ValidationError

from contracts.channels import IncidentUpdated
from services.realtime.catchup import CatchupClient, CatchupUnavailable


class NotAllowed(Exception):
    """The user may not see the incident (or it does not exist: the same answer)."""


class _Page(BaseModel):
    updates: list[IncidentUpdated]
    latest_seq: int
    complete: bool


@dataclass(frozen=True)
class MissedUpdates:
    updates: list[IncidentUpdated]
    latest_seq: int
    complete: bool


class IncidentCatchup:
    def __init__(self, client: CatchupClient) -> None:
        self._client = client

    @property
    def limit(self) -> int:
        return self._client.limit

    async def missed(
        self, incident_id: str, user_id: str | None, since: int | None
    ) -> MissedUpdates:
        """The updates after `since` (none without it) and the latest seq, if `user_id` (None:
        an admin) may see the incident. Raises NotAllowed, CatchupUnavailable."""
        params: dict[str, str | int] = {"limit": self._client.limit}
        if user_id is not None:
            params["user_id"] = user_id
        if since is not None:
            params["after_seq"] = since
        path = f"/api/v1/internal/incidents/{quote(incident_id, safe='')}/updates"
        response = await self._client.get(path, params, ok=(200, 404))
        if response.status_code == 404:
            raise NotAllowed(incident_id)
        try:
            page = _Page.model_validate_json(response.content)
        except ValidationError as exc:
            raise CatchupUnavailable(f"unexpected answer: {exc.error_count()} errors") from exc
        updates = sorted(page.updates, key=lambda u: u.seq)
        return MissedUpdates(updates, page.latest_seq, page.complete)
