"""The notification service: event store, REST API and outbox relay to RabbitMQ."""
