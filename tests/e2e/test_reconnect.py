"""The bell across a realtime outage: red while it is down, green again after, nothing missed."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.e2e.bell import BellPage
from tests.e2e.test_bell import title
from tests.support.demo_system import System, screenshot


def test_realtime_restart_turns_indicator_red_then_green_and_delivers_what_was_missed(
    system: System, context: Any
) -> None:
    user = system.new_user()
    tab = BellPage.open(context, system, user)
    before = title("Before the outage")
    system.create([user], before)
    expect(tab.toast(before)).to_be_visible()
    tab.expect_unread(1)
    tab.page.evaluate("window.__sameDocument = true")

    system.realtime.stop()
    tab.expect_state("disconnected")
    expect(tab.bell).to_have_attribute("title", "Live updates disconnected; reconnecting")
    expect(tab.page.get_by_test_id("connection-status")).to_have_text("disconnected")
    screenshot(tab.page, "bell-disconnected")

    missed = title("Created while realtime was down")
    system.create([user], missed)
    system.restart_realtime()

    tab.expect_state("connected")
    expect(tab.toast(missed)).to_be_visible()
    tab.expect_unread(2)
    tab.open_panel()
    expect(tab.item(missed)).to_be_visible()
    expect(tab.item(before)).to_be_visible()
    assert tab.page.evaluate("window.__sameDocument === true"), "the page was reloaded"
    expect(tab.page.locator(".tocsin-toasts .tocsin-toast", has_text=before)).to_have_count(
        0, timeout=15_000
    )
