"""Every service's Prometheus series follow `tocsin_<service>_<what>`, so dashboards and
`tocsin status` find them."""

from __future__ import annotations

from observability.metrics import badly_named_metrics
from services.email.metrics import EmailMetrics
from services.push.metrics import Metrics as PushMetrics
from services.webhook.metrics import Metrics as WebhookMetrics


def test_email_and_webhook_metrics_follow_the_naming_convention() -> None:
    for registry, prefix in (
        (EmailMetrics().registry, "tocsin_email_"),
        (WebhookMetrics().registry, "tocsin_webhook_"),
        (PushMetrics().registry, "tocsin_push_"),
    ):
        assert badly_named_metrics(registry) == []
        names = [family.name for family in registry.collect()]
        assert names and all(name.startswith(prefix) for name in names)
