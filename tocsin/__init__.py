"""The Python client of Tocsin, for other services: push to people's open sockets, create
stored notifications, publish incident events. It imports Tocsin's contracts and broker
plumbing, never a service's internals.

    from tocsin import Tocsin, TocsinSettings

    async with Tocsin(TocsinSettings(token=service_jwt)) as tocsin:
        await tocsin.broadcast_notification(user_id="alice", notification_data={...})
"""

from messaging.incidents import IncidentPublisher
from messaging.publisher import PublishNotConfirmed, Unroutable
from tocsin.client import Tocsin, TocsinSettings
from tocsin.errors import ApiError, InvalidPush, PushFailed, TocsinError

__all__ = [
    "ApiError",
    "IncidentPublisher",
    "InvalidPush",
    "PublishNotConfirmed",
    "PushFailed",
    "Tocsin",
    "TocsinError",
    "TocsinSettings",
    "Unroutable",
]
