"""Per-service RabbitMQ users with least-privilege permissions, derived from the topology.

RabbitMQ checks three regular expressions per user and virtual host (configure: declare and
delete; write: publish to an exchange, bind a queue; read: consume, bind from an exchange)
and, for topic exchanges, two more on routing keys (topic permissions: write on publish, read
on bind). From those:

- `tocsin-notification`, the only event producer: publishes `notification.*`,
  `incident.*` (live incident updates) and `realtime.push.*` on `<ns>.events`; reads its
  queues (incident events, delivery outcomes).
- `tocsin-email`, `tocsin-webhook`, `tocsin-push`: publish only `delivery.*` (their outcomes) on
  `<ns>.events`; read only their own queue.
- `tocsin-realtime`: publishes only `realtime.typing.*` and `realtime.presence.*` (signals
  between instances, never stored) on `<ns>.events`; reads its instances' queues `<ns>.realtime.*`.
- `tocsin-incidents` (for the services that report incidents): publishes `incident.*` on
  `<ns>.incidents`; reads nothing.
- `tocsin-admin`: everything (migrations, `tocsin topology declare`, operator tools).

Consumers also write to `amq.default`: their retries and dead letters are re-published to
their own retry queues and DLQ through the default exchange, and declaring a queue whose
dead-letter exchange is the default one needs it. RabbitMQ does not check queue names on
default-exchange publishes, so a consumer's credentials can still put a message straight into
a queue whose name they know; they can no longer publish an event to the events exchange,
which is what every consumer and socket reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from contracts.channels import TYPING_SIGNAL
from contracts.presence import PRESENCE_SIGNAL
from contracts.realtime import REALTIME_PUSH
from contracts.topology import Topology

NOTHING = "^$"
DEFAULT_EXCHANGE = "amq.default"


@dataclass(frozen=True)
class TopicPermission:
    exchange: str
    write: str
    read: str


@dataclass(frozen=True)
class BrokerUser:
    """One service's broker identity: its name, permission regexes and topic permissions."""

    service: str
    name: str
    configure: str
    write: str
    read: str
    topics: tuple[TopicPermission, ...] = ()
    tags: tuple[str, ...] = field(default=())

    @property
    def password_variable(self) -> str:
        """The environment variable that holds this user's password."""
        return f"TOCSIN_AMQP_PASSWORD_{self.service.upper()}"


def _any_of(*patterns: str) -> str:
    return "^(" + "|".join(patterns) + ")$"


def _queue_family(topology: Topology, consumer: str) -> str:
    """A consumer's queue, its retry queues and its DLQ."""
    return re.escape(topology.queue(consumer)) + r"(\.delay\.[0-9]+|\.dlq)?"


def service_users(topology: Topology) -> list[BrokerUser]:
    """Every Tocsin service's user for `topology`'s namespace."""
    events = re.escape(topology.events_exchange)
    incidents = re.escape(topology.incidents_exchange)
    default = re.escape(DEFAULT_EXCHANGE)
    deliveries = _queue_family(topology, "notification-deliveries")
    ingest = _queue_family(topology, "notification-incidents")
    realtime_queues = re.escape(topology.namespace) + r"\.realtime\..+"
    sends_events = rf"^(notification|incident|{re.escape(REALTIME_PUSH)})\."
    outcomes_only = TopicPermission(topology.events_exchange, r"^delivery\.", r"^notification\.")
    return [
        BrokerUser(
            service="notification",
            name="tocsin-notification",
            configure=_any_of(events, incidents, deliveries, ingest),
            write=_any_of(default, events, deliveries, ingest),
            read=_any_of(events, incidents, deliveries, ingest),
            topics=(
                TopicPermission(topology.events_exchange, sends_events, r"^delivery\."),
                TopicPermission(topology.incidents_exchange, NOTHING, r"^incident\."),
            ),
        ),
        *(
            BrokerUser(
                service=consumer,
                name=f"tocsin-{consumer}",
                configure=_any_of(events, _queue_family(topology, consumer)),
                write=_any_of(default, events, _queue_family(topology, consumer)),
                read=_any_of(events, _queue_family(topology, consumer)),
                topics=(outcomes_only,),
            )
            for consumer in ("email", "webhook", "push")
        ),
        BrokerUser(
            service="realtime",
            name="tocsin-realtime",
            configure=_any_of(events, realtime_queues),
            # Typing and channel-presence signals between instances are its only publishes
            # (never stored).
            write=_any_of(events, realtime_queues),
            read=_any_of(events, realtime_queues),
            topics=(
                TopicPermission(
                    topology.events_exchange,
                    rf"^({re.escape(TYPING_SIGNAL)}|{re.escape(PRESENCE_SIGNAL)})\.",
                    ".*",
                ),
            ),
        ),
        BrokerUser(
            service="incidents",
            name="tocsin-incidents",
            configure=_any_of(incidents),
            write=_any_of(incidents),
            read=NOTHING,
            topics=(TopicPermission(topology.incidents_exchange, r"^incident\.", NOTHING),),
        ),
        BrokerUser(
            service="admin",
            name="tocsin-admin",
            configure=".*",
            write=".*",
            read=".*",
            tags=("administrator",),
        ),
    ]


def rabbitmqctl_commands(
    users: list[BrokerUser], passwords: dict[str, str], vhost: str = "/"
) -> list[list[str]]:
    """The `rabbitmqctl` argument lists that create (or reset) every user and its permissions,
    then delete `guest`. `passwords` maps a user name to its password.

    Every command ends its options with `--`: a generated password may begin with `-`, and
    `rabbitmqctl` would read it as an option and refuse the command."""
    commands: list[list[str]] = []
    for user in users:
        password = passwords[user.name]
        rules = [user.configure, user.write, user.read]
        commands += [
            ["add_user", "--", user.name, password],
            ["change_password", "--", user.name, password],
            ["set_user_tags", "--", user.name, *user.tags],
            ["set_permissions", "-p", vhost, "--", user.name, *rules],
            ["clear_topic_permissions", "-p", vhost, "--", user.name],
        ]
        for topic in user.topics:
            rule = [topic.exchange, topic.write, topic.read]
            commands.append(["set_topic_permissions", "-p", vhost, "--", user.name, *rule])
    commands.append(["delete_user", "--", "guest"])
    return commands
