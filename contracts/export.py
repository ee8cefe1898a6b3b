"""Writes the JSON Schema of every message (and of the WebSocket close codes) to
contracts/schemas/ and the AsyncAPI document to contracts/asyncapi.yaml (or checks they are
current).

python -m contracts.export          # regenerate
python -m contracts.export --check  # exit 1 when a file differs from the models
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from contracts import asyncapi
from contracts.channels import (
    TYPING_SIGNAL,
    Subscribe,
    Subscribed,
    Typing,
    TypingNotice,
    TypingSignal,
    Unsubscribe,
    Unsubscribed,
)
from contracts.events import EVENT_DATA_MODELS, EventEnvelope
from contracts.incidents import INCIDENT_EVENT_MODELS
from contracts.notifications import NotificationData, NotificationStats
from contracts.presence import (
    PRESENCE_SIGNAL,
    ChannelPresence,
    OnlineUsers,
    PresenceChange,
    UsersPresence,
)
from contracts.realtime import RealtimePush
from contracts.websocket import ConnectionEstablished, ServerMessage, close_code_schema

SCHEMA_DIR = Path(__file__).parent / "schemas"
ASYNCAPI_PATH = Path(__file__).parent / "asyncapi.yaml"
ASYNCAPI_HEADER = (
    "# Generated from the contracts by `python -m contracts.export`; do not edit by hand.\n"
)


def message_models() -> dict[str, type[BaseModel]]:
    """File stem → model, for every message that crosses a process boundary."""
    models: dict[str, type[BaseModel]] = {
        "event-envelope": EventEnvelope,
        "notification-data": NotificationData,
        "notification-stats": NotificationStats,
        "ws-server-message": ServerMessage,
        "ws-connection-established": ConnectionEstablished,
        "realtime.push": RealtimePush,
        TYPING_SIGNAL: TypingSignal,
        "ws-subscribe": Subscribe,
        "ws-unsubscribe": Unsubscribe,
        "ws-typing": Typing,
        "ws-subscribed": Subscribed,
        "ws-unsubscribed": Unsubscribed,
        "ws-typing-notice": TypingNotice,
        "presence-users": UsersPresence,
        "presence-online-users": OnlineUsers,
        "presence-channel": ChannelPresence,
        PRESENCE_SIGNAL: PresenceChange,
    }
    for event_type, model in EVENT_DATA_MODELS.items():
        models[f"{event_type.value}.data"] = model
    for incident_type, incident_model in INCIDENT_EVENT_MODELS.items():
        models[incident_type.value] = incident_model
    return models


def rendered_asyncapi() -> str:
    return ASYNCAPI_HEADER + yaml.safe_dump(
        asyncapi.document(), sort_keys=False, allow_unicode=True, width=100
    )


def schemas() -> dict[str, dict[str, Any]]:
    """File stem → JSON Schema: every message model, and the close codes of the socket."""
    documents = {stem: model.model_json_schema() for stem, model in message_models().items()}
    documents["ws-close-code"] = close_code_schema()
    return documents


def rendered() -> dict[str, str]:
    return {
        f"{stem}.schema.json": json.dumps(
            {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema},
            indent=2,
            sort_keys=True,
        )
        + "\n"
        for stem, schema in schemas().items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="fail when files are not current")
    args = parser.parse_args(argv)
    files = rendered()
    if args.check:
        stale = [
            name
            for name, text in files.items()
            if not (SCHEMA_DIR / name).exists() or (SCHEMA_DIR / name).read_text() != text
        ]
        extra = (
            sorted(p.name for p in SCHEMA_DIR.glob("*.schema.json") if p.name not in files)
            if SCHEMA_DIR.exists()
            else []
        )
        if not ASYNCAPI_PATH.exists() or ASYNCAPI_PATH.read_text() != rendered_asyncapi():
            stale.append(ASYNCAPI_PATH.name)
        if stale or extra:
            print(f"contract files are stale: {stale + extra}; run `python -m contracts.export`")
            return 1
        print(f"{len(files)} contract schemas and {ASYNCAPI_PATH.name} are current")
        return 0
    SCHEMA_DIR.mkdir(exist_ok=True)
    for name, text in files.items():
        (SCHEMA_DIR / name).write_text(text)
    ASYNCAPI_PATH.write_text(rendered_asyncapi())
    print(f"wrote {len(files)} schemas to {SCHEMA_DIR} and {ASYNCAPI_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
