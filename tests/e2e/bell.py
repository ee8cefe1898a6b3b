"""What a user sees of the NotificationBell on the demo page, as Playwright locators."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from playwright.sync_api import Locator, Page, expect

if TYPE_CHECKING:
    from tests.support.demo_system import System


class BellPage:
    def __init__(self, page: Page) -> None:
        self.page = page
        self.bell: Locator = page.locator("button.tocsin-bell")
        self.badge: Locator = page.get_by_test_id("tocsin-badge")
        self.dot: Locator = page.get_by_test_id("tocsin-connection")
        self.panel: Locator = page.get_by_role("region", name="Recent notifications")
        self.sockets: list[Any] = []  # WebSockets the page opened, when opened through `open`

    @classmethod
    def open(cls, context: Any, system: System, user: str) -> BellPage:
        page = context.new_page()
        sockets: list[Any] = []
        page.on("websocket", lambda socket: sockets.append(socket))
        page.goto(system.page_url(user))
        bell = cls(page)
        bell.sockets = sockets
        bell.expect_state("connected")
        return bell

    def expect_state(self, state: str) -> None:
        expect(self.dot).to_have_attribute("data-state", state)

    def toast(self, title: str) -> Locator:
        return self.page.locator(".tocsin-toasts .tocsin-toast", has_text=title)

    def item(self, title: str) -> Locator:
        return self.panel.locator(".tocsin-item", has_text=title)

    def expect_unread(self, count: int) -> None:
        if count == 0:
            expect(self.badge).to_have_count(0)
            expect(self.bell).to_have_attribute("aria-label", _label_pattern("no"))
        else:
            expect(self.badge).to_have_text(str(count) if count <= 99 else "99+")
            expect(self.bell).to_have_attribute("aria-label", _label_pattern(str(count)))

    def open_panel(self) -> None:
        if self.bell.get_attribute("aria-expanded") != "true":
            self.bell.click()
        expect(self.panel).to_be_visible()


def _label_pattern(count: str) -> re.Pattern[str]:
    return re.compile(rf"^Notifications, {re.escape(count)} unread\.")
