"""Incident events in: rules (`rules.yaml`), ingestion (`ingest.py`), the AMQP consumer."""

from services.notification.incidents.consumer import (
    CONSUMER_NAME,
    consumer_spec,
    incident_consumer,
    incident_worker,
)

__all__ = ["CONSUMER_NAME", "consumer_spec", "incident_consumer", "incident_worker"]
