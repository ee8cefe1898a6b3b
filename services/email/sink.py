"""`python -m services.email.sink`: a local SMTP server for demos that accepts every email and
writes it to MAIL_DIR (default var/mail) as `<time>-<Message-ID>.eml`. Not for production."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
import time
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from pydantic_settings import BaseSettings, SettingsConfigDict

logger = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9._@-]+")


class SinkSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    sink_host: str = "127.0.0.1"
    sink_port: int = 1025
    mail_dir: str = "var/mail"
    log_level: str = "INFO"


class MailFolder:
    """aiosmtpd handler: each accepted message becomes one .eml file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content: bytes = envelope.original_content or envelope.content
        parsed = message_from_bytes(content, policy=default_policy)
        message_id = _UNSAFE.sub("_", str(parsed.get("Message-ID", "")).strip("<>"))[:120]
        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{time.monotonic_ns()}-{message_id or 'mail'}.eml"
        path = self.folder / name
        path.write_bytes(content)
        logger.info(
            "mail received",
            extra={
                "to": list(envelope.rcpt_tos),
                "subject": parsed.get("Subject"),
                "path": str(path),
            },
        )
        return "250 Message accepted for delivery"


def main() -> None:
    settings = SinkSettings()
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(message)s")
    controller = Controller(
        MailFolder(Path(settings.mail_dir)), hostname=settings.sink_host, port=settings.sink_port
    )
    controller.start()
    print(f"SMTP sink on {settings.sink_host}:{settings.sink_port}, writing to {settings.mail_dir}")

    async def wait_for_signal() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()

    try:
        asyncio.run(wait_for_signal())
    finally:
        with contextlib.suppress(Exception):
            controller.stop()


if __name__ == "__main__":
    main()
