"""Cluster-wide presence, served by the realtime service to other services.

`GET {REALTIME_URL}/api/v1/presence?user_ids=a,b` with a service token of scope
`presence:read` answers `{"users": {"a": true, "b": false}}`: true when the user has at least
one live socket on any realtime instance.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

PRESENCE_PATH = "/api/v1/presence"
PRESENCE_READ_SCOPE = "presence:read"


class PresenceAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    users: dict[str, bool]
