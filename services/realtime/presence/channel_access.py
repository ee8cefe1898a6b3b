"""Who may read a channel's presence over REST: the same rule as subscribing to it.

- a service token with `presence:read`: any channel;
- `incident:<id>`: the incident's people, or a token with `notifications:admin` (asked of the
  notification service, as a subscribe does);
- any other channel: a channel token for this user and channel, in the `X-Channel-Token`
  header.
"""

from __future__ import annotations

from contracts.channels import incident_of
from identity import Claims, JwtSettings, TokenError
from identity.channel_tokens import verify_channel_token
from identity.tokens import ADMIN_SCOPE, PRESENCE_READ_SCOPE
from services.realtime.channel_catchup import IncidentCatchup, NotAllowed

CHANNEL_TOKEN_HEADER = "X-Channel-Token"


class ChannelAccess:
    def __init__(self, incidents: IncidentCatchup, jwt: JwtSettings) -> None:
        self.incidents = incidents
        self.jwt = jwt

    async def allows(self, claims: Claims, channel: str, channel_token: str | None) -> bool:
        """Raises CatchupUnavailable when the notification service cannot be asked."""
        if claims.has_scope(PRESENCE_READ_SCOPE):
            return True
        incident_id = incident_of(channel)
        if incident_id is not None:
            asker = None if claims.has_scope(ADMIN_SCOPE) else claims.user_id
            try:
                await self.incidents.missed(incident_id, asker, None)
            except NotAllowed:
                return False
            return True
        try:
            verify_channel_token(channel_token, self.jwt, claims.user_id, channel)
        except TokenError:
            return False
        return True
