"""The email consumer: renders `notification.created` events and sends them over SMTP."""
