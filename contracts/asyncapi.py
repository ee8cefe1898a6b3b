"""The AsyncAPI 3 document of Tocsin's broker traffic, built from the contracts themselves.

`python -m contracts.export` writes it to `contracts/asyncapi.yaml` beside the JSON Schema
files it references, so a producer in another language can build against those files alone,
and `--check` fails when the document no longer matches the models.

Channels on `<namespace>.events` (Tocsin sends): every notification and delivery event,
address `<event type>.<user key>`, and the `realtime.push` command the realtime service
receives. Channels on `<namespace>.incidents` (Tocsin receives): every
incident event, address = event type. The document shows the default namespace `tocsin`.
"""

from __future__ import annotations

from typing import Any

from contracts.channels import TYPING_SIGNAL
from contracts.events import CHANNEL_EVENT_TYPES, EVENT_DATA_MODELS, SCHEMA_VERSION, EventType
from contracts.incidents import INCIDENT_EVENT_MODELS, INCIDENT_SCHEMA_VERSION
from contracts.presence import PRESENCE_SIGNAL
from contracts.push import PUSH_CONSUMER, PUSH_EVENT_TYPES
from contracts.realtime import REALTIME_PUSH
from contracts.topology import BROADCAST_USER_KEY, Topology

AMQP_BINDING_VERSION = "0.3.0"

_SUMMARIES: dict[str, str] = {
    EventType.NOTIFICATION_CREATED: "A notification was recorded for a user.",
    EventType.NOTIFICATION_READ: "A user marked a notification read.",
    EventType.NOTIFICATION_UNREAD: "A user marked a notification unread.",
    EventType.NOTIFICATION_READ_ALL: "A user marked every notification read.",
    EventType.NOTIFICATION_DELETED: "A user deleted a notification.",
    EventType.NOTIFICATION_BROADCAST: "An announcement for every connected user (not stored).",
    EventType.DELIVERY_SUCCEEDED: "A notification reached its email, webhook or push device.",
    EventType.DELIVERY_FAILED: "A notification could not be delivered by email, webhook or push.",
    EventType.INCIDENT_UPDATED: "An incident changed; for the subscribers of its channel.",
}


def _camel(event_type: str) -> str:
    words = event_type.replace(".", "_").split("_")
    return words[0] + "".join(word.capitalize() for word in words[1:])


def schema_file(stem: str) -> str:
    """Relative reference to a generated JSON Schema file, from the document's folder."""
    return f"./schemas/{stem}.schema.json"


def _exchange(name: str) -> dict[str, Any]:
    return {"name": name, "type": "topic", "durable": True, "autoDelete": False, "vhost": "/"}


def _notification_message(event_type: EventType) -> dict[str, Any]:
    return {
        "name": event_type.value,
        "title": event_type.value,
        "summary": _SUMMARIES[event_type],
        "contentType": "application/json",
        "correlationId": {
            "description": "message_id is the event_id; consumers dedupe on it.",
            "location": "$message.payload#/event_id",
        },
        "payload": {
            "allOf": [
                {"$ref": schema_file("event-envelope")},
                {
                    "type": "object",
                    "properties": {
                        "type": {"const": event_type.value},
                        "schema_version": {"const": SCHEMA_VERSION},
                        "data": {"$ref": schema_file(f"{event_type.value}.data")},
                    },
                },
            ]
        },
        "bindings": {
            "amqp": {"messageType": event_type.value, "bindingVersion": AMQP_BINDING_VERSION}
        },
    }


def _incident_message(event_type: str) -> dict[str, Any]:
    model = INCIDENT_EVENT_MODELS[event_type]  # type: ignore[index]
    return {
        "name": event_type,
        "title": event_type,
        "summary": (model.__doc__ or event_type).strip().splitlines()[0],
        "contentType": "application/json",
        "correlationId": {
            "description": "Set message_id to the event_id; Tocsin dedupes on event_id.",
            "location": "$message.payload#/event_id",
        },
        "payload": {"$ref": schema_file(event_type)},
        "bindings": {"amqp": {"messageType": event_type, "bindingVersion": AMQP_BINDING_VERSION}},
    }


def document(topology: Topology | None = None) -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document as plain data (YAML/JSON-ready)."""
    topology = topology or Topology()
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}

    for event_type in EVENT_DATA_MODELS:
        name = _camel(event_type.value)
        messages[name] = _notification_message(event_type)
        broadcast = event_type is EventType.NOTIFICATION_BROADCAST
        parameter = "channelKey" if event_type in CHANNEL_EVENT_TYPES else "userKey"
        key = BROADCAST_USER_KEY if broadcast else "{" + parameter + "}"
        channel: dict[str, Any] = {
            "address": f"{event_type.value}.{key}",
            "title": event_type.value,
            "description": (
                f"Routing key on `{topology.events_exchange}`. Bind `{event_type.value}.*` "
                f"for every {'channel' if parameter == 'channelKey' else 'user'}, or "
                f"`*.*.<{'channel key' if parameter == 'channelKey' else 'user key'}>` for one."
            ),
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
            "bindings": {
                "amqp": {
                    "is": "routingKey",
                    "exchange": _exchange(topology.events_exchange),
                    "bindingVersion": AMQP_BINDING_VERSION,
                }
            },
        }
        if not broadcast:
            channel["parameters"] = {parameter: {"$ref": f"#/components/parameters/{parameter}"}}
        channels[name] = channel
        operations[f"send{name[0].upper()}{name[1:]}"] = {
            "action": "send",
            "title": f"Tocsin publishes {event_type.value}",
            "channel": {"$ref": f"#/channels/{name}"},
            "messages": [{"$ref": f"#/channels/{name}/messages/{name}"}],
            "bindings": {
                "amqp": {
                    "deliveryMode": 2,
                    "mandatory": True,
                    "bindingVersion": AMQP_BINDING_VERSION,
                }
            },
        }

    for incident_type in INCIDENT_EVENT_MODELS:
        name = _camel(incident_type.value)
        messages[name] = _incident_message(incident_type.value)
        channels[name] = {
            "address": incident_type.value,
            "title": incident_type.value,
            "description": (
                f"Publish `{incident_type.value}` events on `{topology.incidents_exchange}` "
                f"with this routing key; schema_version {INCIDENT_SCHEMA_VERSION} "
                "(any 1.x is accepted)."
            ),
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
            "bindings": {
                "amqp": {
                    "is": "routingKey",
                    "exchange": _exchange(topology.incidents_exchange),
                    "bindingVersion": AMQP_BINDING_VERSION,
                }
            },
        }
        operations[f"receive{name[0].upper()}{name[1:]}"] = {
            "action": "receive",
            "title": f"Tocsin consumes {incident_type.value}",
            "description": (
                f"Read from the quorum queue `{topology.queue('notification-incidents')}`. "
                "A message that does not fit goes to its `.dlq` with header x-tocsin-reason."
            ),
            "channel": {"$ref": f"#/channels/{name}"},
            "messages": [{"$ref": f"#/channels/{name}/messages/{name}"}],
            "bindings": {"amqp": {"ack": True, "bindingVersion": AMQP_BINDING_VERSION}},
        }

    for event_type in PUSH_EVENT_TYPES:
        name = _camel(event_type.value)
        operations[f"pushReceives{name[0].upper()}{name[1:]}"] = {
            "action": "receive",
            "title": f"The push service consumes {event_type.value}",
            "description": (
                f"Read from the quorum queue `{topology.queue(PUSH_CONSUMER)}` (bound with "
                f"`{event_type.value}.*`), retried through `{topology.queue(PUSH_CONSUMER)}"
                ".delay.<ms>`, dead-lettered to its `.dlq` with header x-tocsin-reason. "
                "`notification.created` schedules a push; the others cancel a waiting one."
            ),
            "channel": {"$ref": f"#/channels/{name}"},
            "messages": [{"$ref": f"#/channels/{name}/messages/{name}"}],
            "bindings": {"amqp": {"ack": True, "bindingVersion": AMQP_BINDING_VERSION}},
        }

    name = _camel(REALTIME_PUSH)
    messages[name] = {
        "name": REALTIME_PUSH,
        "title": REALTIME_PUSH,
        "summary": "A message for every open socket of one user (or of everyone); not stored.",
        "contentType": "application/json",
        "payload": {"$ref": schema_file(REALTIME_PUSH)},
        "bindings": {
            "amqp": {"messageType": REALTIME_PUSH, "bindingVersion": AMQP_BINDING_VERSION}
        },
    }
    channels[name] = {
        "address": f"{REALTIME_PUSH}.{{userKey}}",
        "title": REALTIME_PUSH,
        "description": (
            f"Routing key on `{topology.events_exchange}`: the user key of one user, or "
            f"`{BROADCAST_USER_KEY}` for every connected socket. Realtime instances bind the "
            "users they hold."
        ),
        "parameters": {"userKey": {"$ref": "#/components/parameters/userKey"}},
        "messages": {name: {"$ref": f"#/components/messages/{name}"}},
        "bindings": {
            "amqp": {
                "is": "routingKey",
                "exchange": _exchange(topology.events_exchange),
                "bindingVersion": AMQP_BINDING_VERSION,
            }
        },
    }
    operations["receiveRealtimePush"] = {
        "action": "receive",
        "title": "The realtime service pushes to open sockets",
        "channel": {"$ref": f"#/channels/{name}"},
        "messages": [{"$ref": f"#/channels/{name}/messages/{name}"}],
    }

    for signal, summary, title in (
        (
            TYPING_SIGNAL,
            "Someone is typing on a channel (or stopped); between realtime instances.",
            "A realtime instance relays a typing indicator",
        ),
        (
            PRESENCE_SIGNAL,
            "Someone joined or left a channel, cluster-wide; between realtime instances.",
            "A realtime instance relays a channel presence change",
        ),
    ):
        _channel_signal(topology, channels, operations, messages, signal, summary, title)

    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Tocsin",
            "version": "1.0.0",
            "description": (
                "Real-time notifications. Tocsin publishes notification and delivery events on "
                f"`{topology.events_exchange}` and consumes incident events from "
                f"`{topology.incidents_exchange}`. Both are durable topic exchanges; every "
                "message is persistent JSON with message_id = event_id and type = event type. "
                "Exchange names start with the deployment's namespace (TOCSIN_NAMESPACE, "
                "default `tocsin`)."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "rabbitmq": {
                "host": "localhost:5672",
                "protocol": "amqp",
                "protocolVersion": "0.9.1",
                "description": "RabbitMQ (AMQP_URL); vhost `/`.",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "parameters": {
                "userKey": {
                    "description": (
                        "16 hex digits of SHA-256 of the user id (contracts.topology.user_key)."
                    ),
                    "examples": ["3f2a9c0d1b7e4a55"],
                },
                "channelKey": {
                    "description": (
                        "`c` and 16 hex digits of SHA-256 of `channel:<name>` "
                        "(contracts.channels.channel_key)."
                    ),
                    "examples": ["c3f2a9c0d1b7e4a55"],
                },
            },
        },
    }


def _channel_signal(
    topology: Topology,
    channels: dict[str, Any],
    operations: dict[str, Any],
    messages: dict[str, Any],
    signal: str,
    summary: str,
    title: str,
) -> None:
    """A non-persistent message between realtime instances, addressed to a channel's key."""
    name = _camel(signal)
    messages[name] = {
        "name": signal,
        "title": signal,
        "summary": summary,
        "contentType": "application/json",
        "payload": {"$ref": schema_file(signal)},
        "bindings": {"amqp": {"messageType": signal, "bindingVersion": AMQP_BINDING_VERSION}},
    }
    channels[name] = {
        "address": f"{signal}.{{channelKey}}",
        "title": signal,
        "description": (
            f"Routing key on `{topology.events_exchange}`. Every realtime instance with a "
            "subscriber of the channel binds `*.*.<channel key>`. Non-persistent, never stored."
        ),
        "parameters": {"channelKey": {"$ref": "#/components/parameters/channelKey"}},
        "messages": {name: {"$ref": f"#/components/messages/{name}"}},
        "bindings": {
            "amqp": {
                "is": "routingKey",
                "exchange": _exchange(topology.events_exchange),
                "bindingVersion": AMQP_BINDING_VERSION,
            }
        },
    }
    operations[f"send{name[0].upper()}{name[1:]}"] = {
        "action": "send",
        "title": title,
        "channel": {"$ref": f"#/channels/{name}"},
        "messages": [{"$ref": f"#/channels/{name}/messages/{name}"}],
        "bindings": {"amqp": {"deliveryMode": 1, "bindingVersion": AMQP_BINDING_VERSION}},
    }
