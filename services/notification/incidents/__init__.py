"""Incident events in: rules (`rules.yaml`), ingestion (`ingest.py`), the AMQP consumer."""

from services.notification.incidents.consumer import (
    CONSUMER_NAME,
    consume_incidents,
    consumer_spec,
    incident_consumer,
)

__all__ = ["CONSUMER_NAME", "consume_incidents", "consumer_spec", "incident_consumer"]
