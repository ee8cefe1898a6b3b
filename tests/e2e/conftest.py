"""The whole system for browser tests: notification API, realtime service and demo page as real
processes, the demo page built from clients/web, and Debian's headless Chromium via Playwright.

One system per test module (its own broker namespace and demo users); each test opens its own
browser context and uses demo users no other test uses.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import playwright.sync_api as playwright_sync
import pytest

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.demo_system import DEMO_DIST, WEB, System, newest_source_mtime, running_demo


@pytest.fixture(scope="session")
def demo_build() -> Path:
    """clients/web/dist/demo, built now when missing or older than the sources."""
    index = DEMO_DIST / "index.html"
    if index.exists() and index.stat().st_mtime >= newest_source_mtime():
        return DEMO_DIST
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is not installed: cannot build the demo page (install Node.js 20)")
    if not (WEB / "node_modules").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=WEB, check=True)
    subprocess.run([npm, "run", "build"], cwd=WEB, check=True, capture_output=True)
    return DEMO_DIST


@pytest.fixture(scope="module")
def system(database_url: str, amqp_url: str, demo_build: Path) -> Iterator[System]:
    with running_demo(database_url, amqp_url, demo_build) as state:
        yield state


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """One Chromium for the browser tests. Package-scoped: Playwright's sync API keeps an event
    loop running in this thread while it is open, which would break every asyncio test after."""
    if not Path(CHROMIUM).exists():
        pytest.fail(
            "Chromium is not installed: run scripts/ensure-packages chromium (or make test)"
        )
    with playwright_sync.sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    """A fresh browser profile for one test; its pages are tabs of one browser."""
    ctx = browser.new_context(viewport={"width": 1100, "height": 720})
    ctx.set_default_timeout(20_000)
    try:
        yield ctx
    finally:
        ctx.close()
