"""The headless Chromium the browser tests and the web benchmark drive (through Playwright)."""

from __future__ import annotations

import shutil

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
"""Debian's Chromium: Playwright's own browser download is not needed."""

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
"""Quiet, sandbox-free flags for a container; no background traffic to skew timings."""
