"""Fixtures for channel tests: the real notification service ingesting incident events (so
its projection answers access and catch-up), and a publisher of incident events. They are
defined in tests/support/incident_story.py, which the presence tests share."""

from __future__ import annotations

from tests.support.incident_story import incident_api as incident_api
from tests.support.incident_story import incident_queues as incident_queues
from tests.support.incident_story import incidents as incidents
