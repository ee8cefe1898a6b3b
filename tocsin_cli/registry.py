"""Every consumer kind by name, and where its `ConsumerSpec` comes from.

The services own their specs (`services.email.consumer.consumer_spec(topology)` and so on);
this registry names them so operators' tools (`tocsin topology declare`, `replay`, `dlq`,
`status`) and the benches can find every queue without importing a service's runtime. It
lives with the CLI, its only user, so the shared broker plumbing (`messaging/`) never names a
service.
Modules are imported lazily: a service that is not installed is reported, not fatal.

`realtime` is listed without a durable queue: each realtime instance has its own exclusive
queue (`Topology.realtime_queue(instance_id)`), declared by the instance itself.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from contracts.topology import Topology
from messaging.topology import ConsumerSpec

SpecFactory = Callable[[Topology], ConsumerSpec]


@dataclass(frozen=True)
class ConsumerEntry:
    name: str
    factory_path: str | None
    """`module:function` returning the ConsumerSpec; None for per-instance queues (realtime)."""
    description: str

    @property
    def durable(self) -> bool:
        return self.factory_path is not None


CONSUMERS: dict[str, ConsumerEntry] = {
    entry.name: entry
    for entry in (
        ConsumerEntry("email", "services.email.consumer:consumer_spec", "email delivery"),
        ConsumerEntry("webhook", "services.webhook.consumer:consumer_spec", "webhook delivery"),
        ConsumerEntry("push", "services.push.consumer:consumer_spec", "Web Push, FCM and APNs"),
        ConsumerEntry(
            "notification-incidents",
            "services.notification.incidents.consumer:consumer_spec",
            "incident events → notifications",
        ),
        ConsumerEntry(
            "notification-deliveries",
            "services.notification.deliveries:consumer_spec",
            "delivery outcomes → delivery log",
        ),
        ConsumerEntry("realtime", None, "WebSocket push (one exclusive queue per instance)"),
    )
}


class UnknownConsumer(LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(f"unknown consumer {name!r}; known: {', '.join(sorted(CONSUMERS))}")
        self.name = name


class ConsumerNotInstalled(LookupError):
    """The consumer is known but its service's module (or spec factory) is not importable."""


def entry(name: str) -> ConsumerEntry:
    """The registry entry for `name`; raises UnknownConsumer."""
    try:
        return CONSUMERS[name]
    except KeyError:
        raise UnknownConsumer(name) from None


def durable_consumers() -> list[ConsumerEntry]:
    return [e for e in CONSUMERS.values() if e.durable]


def consumer_spec(name: str, topology: Topology) -> ConsumerSpec:
    """The service's own ConsumerSpec for `name` in `topology`.

    Raises UnknownConsumer, or ConsumerNotInstalled when the service's module is missing or
    has no spec factory (or `name` has no durable queue).
    """
    found = entry(name)
    if found.factory_path is None:
        raise ConsumerNotInstalled(f"{name} has no durable queue (one queue per instance)")
    module_name, _, function = found.factory_path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ConsumerNotInstalled(f"{name}: {module_name} is not installed ({exc})") from exc
    factory: SpecFactory | None = getattr(module, function, None)
    if factory is None:
        raise ConsumerNotInstalled(f"{name}: {found.factory_path} does not exist")
    return factory(topology, **_tuning(factory, module_name))


def _tuning(factory: Callable[..., ConsumerSpec], module_name: str) -> dict[str, Any]:
    """Values for the factory's other parameters (retry delays, delivery limit, prefetch...)
    taken from the service's own `Settings` (environment), so a declaration made by a tool
    matches the one the service makes; parameters with defaults are left to them when the
    service's settings cannot be read."""
    wanted = [p for p in inspect.signature(factory).parameters.values()][1:]
    if not wanted:
        return {}
    service_settings: object | None = None
    settings_module = module_name.rsplit(".", 1)[0] + ".settings"
    try:
        service_settings = importlib.import_module(settings_module).Settings()
    except Exception:  # missing module or required env vars: fall back to the defaults
        service_settings = None
    values: dict[str, Any] = {}
    for parameter in wanted:
        if service_settings is not None and hasattr(service_settings, parameter.name):
            values[parameter.name] = getattr(service_settings, parameter.name)
        elif parameter.default is inspect.Parameter.empty:
            raise ConsumerNotInstalled(
                f"{module_name}: cannot tell {parameter.name} for the consumer spec "
                f"({settings_module}.Settings() could not be read)"
            )
    return values
