"""The webhook consumer: signed HTTP deliveries of notification events to registered endpoints.

It owns the `webhook` schema (endpoints, processed events, deliveries, attempts), serves the
endpoint-registration API under `/api/v1/webhooks/`, and consumes its own quorum queue.
"""
