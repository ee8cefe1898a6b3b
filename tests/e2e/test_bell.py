"""The NotificationBell in a real headless Chromium against the real running system."""

from __future__ import annotations

import uuid
from typing import Any

from playwright.sync_api import expect

from tests.e2e.bell import BellPage
from tests.support.demo_system import System, screenshot


def title(what: str) -> str:
    return f"{what} {uuid.uuid4().hex[:6]}"


def test_two_tabs_of_one_user_both_toast_and_show_badge_one(system: System, context: Any) -> None:
    user = system.new_user()
    first, second = BellPage.open(context, system, user), BellPage.open(context, system, user)
    first.expect_unread(0)
    second.expect_unread(0)

    name = title("Database latency above 2s")
    system.create([user], name, entity_url="#/incidents/INC-1")

    for tab in (first, second):
        expect(tab.toast(name)).to_be_visible()
        tab.expect_unread(1)
    expect(first.page.locator(".tocsin-toasts")).to_have_attribute("aria-live", "polite")
    screenshot(first.page, "bell-closed-with-toast")
    first.open_panel()
    expect(first.item(name)).to_have_attribute("data-unread", "true")
    screenshot(first.page, "bell-open")


def test_marking_read_in_one_tab_clears_the_badge_in_the_other(
    system: System, context: Any
) -> None:
    user = system.new_user()
    first, second = BellPage.open(context, system, user), BellPage.open(context, system, user)
    name = title("Disk almost full")
    system.create([user], name, entity_url="#/incidents/INC-2")
    second.expect_unread(1)
    first.expect_unread(1)

    first.open_panel()
    first.item(name).click()

    first.expect_unread(0)
    second.expect_unread(0)
    second.open_panel()
    expect(second.item(name)).to_have_attribute("data-unread", "false")
    expect(first.page.get_by_text("Opened #/incidents/INC-2")).to_be_visible()


def test_mark_all_as_read_clears_every_tab(system: System, context: Any) -> None:
    user = system.new_user()
    first, second = BellPage.open(context, system, user), BellPage.open(context, system, user)
    for i in range(3):
        system.create([user], title(f"Alert {i}"))
    first.expect_unread(3)
    second.expect_unread(3)

    first.open_panel()
    # Chromium has Web Push: the bell offers it (turning it on is tests/e2e/test_push_worker.py
    # and the web client's push-offer test; this browser cannot reach a real push service).
    expect(first.panel.get_by_role("button", name="Notify me when I'm away")).to_be_visible()
    first.panel.get_by_role("button", name="Mark all as read").click()

    first.expect_unread(0)
    second.expect_unread(0)


def test_a_user_never_sees_another_users_notification(system: System, context: Any) -> None:
    alice, bob = system.new_user(), system.new_user()
    alice_tab, bob_tab = BellPage.open(context, system, alice), BellPage.open(context, system, bob)
    secret = title("For alice only")
    system.create([alice], secret)
    expect(alice_tab.toast(secret)).to_be_visible()

    mine = title("For bob")
    system.create([bob], mine)
    expect(bob_tab.toast(mine)).to_be_visible()
    bob_tab.expect_unread(1)
    expect(bob_tab.toast(secret)).to_have_count(0)
    bob_tab.open_panel()
    expect(bob_tab.item(mine)).to_be_visible()
    expect(bob_tab.panel.get_by_text(secret)).to_have_count(0)

    bob_tab.page.reload()
    bob_tab.expect_state("connected")
    bob_tab.open_panel()
    expect(bob_tab.item(mine)).to_be_visible()
    expect(bob_tab.panel.get_by_text(secret)).to_have_count(0)


def test_dark_theme_and_keyboard_operation(system: System, context: Any) -> None:
    user = system.new_user()
    tab = BellPage.open(context, system, user)
    page = tab.page
    for i, priority in enumerate(("low", "normal", "high", "critical")):
        system.create([user], title(f"{priority.title()} priority alert {i}"), priority=priority)
    tab.expect_unread(4)
    page.get_by_role("button", name="Dark theme").click()
    expect(page.locator(".tocsin")).to_have_attribute("data-theme", "dark")

    tab.bell.focus()
    page.keyboard.press("Enter")
    expect(tab.panel).to_be_visible()
    page.keyboard.press("ArrowDown")
    expect(tab.panel.locator(".tocsin-item").first).to_be_focused()
    screenshot(page, "bell-open-dark")
    page.keyboard.press("Enter")
    tab.expect_unread(3)
    page.keyboard.press("Escape")
    expect(tab.panel).to_have_count(0)
    expect(tab.bell).to_be_focused()
