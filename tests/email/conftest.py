"""Fixtures for the email consumer's tests. The consumer itself, its real SMTP server and its
settings are fixtures of tests/support/email_consumer.py (the delivery-status tests use them
too), with the helpers that publish events and read its tables."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aio_pika
import pytest
from aio_pika.abc import AbstractRobustConnection
from fastapi import FastAPI

from contracts.topology import Topology
from tests.support.email_consumer import email_app as email_app
from tests.support.email_consumer import email_db as email_db
from tests.support.email_consumer import email_settings as email_settings
from tests.support.email_consumer import smtp as smtp


@pytest.fixture
async def outcomes(
    amqp_connection: AbstractRobustConnection, topology: Topology, email_app: FastAPI
) -> AsyncIterator[aio_pika.abc.AbstractQueue]:
    """A queue of ours that receives every delivery.* event."""
    channel = await amqp_connection.channel()
    queue = await channel.declare_queue(exclusive=True, auto_delete=True)
    await queue.bind(topology.events_exchange, "delivery.*.*")
    yield queue
