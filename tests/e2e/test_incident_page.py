"""The demo's incident page in Chromium: two people watch one incident live and see each other
present and typing (real notification service ingesting incident events, realtime service,
demo server)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.support.demo_system import System, running_demo, screenshot


@pytest.fixture(scope="module")
def incident_system(database_url: str, amqp_url: str, demo_build: Path) -> Iterator[System]:
    with running_demo(database_url, amqp_url, demo_build, incidents=True) as state:
        yield state


def _incident_page(browser: Any, system: System, user: str) -> Any:
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.goto(f"{system.page_url(user)}#incident")
    return page


def test_two_people_on_the_incident_page_see_changes_each_other_present_and_typing(
    incident_system: System, browser: Any
) -> None:
    ann, ben = incident_system.new_user(), incident_system.new_user()
    ann_page = _incident_page(browser, incident_system, ann)
    ann_page.get_by_role("button", name="Open the demo incident").click()
    expect(ann_page.get_by_test_id("incident-status")).to_have_text("open")
    expect(ann_page.get_by_test_id("channel-state")).to_have_text("live updates subscribed")

    ben_page = _incident_page(browser, incident_system, ben)
    expect(ben_page.get_by_test_id("incident-status")).to_have_text("open")
    expect(ben_page.get_by_test_id("channel-state")).to_have_text("live updates subscribed")
    for page in (ann_page, ben_page):  # each sees both, whatever order they arrived in
        expect(page.get_by_test_id("present")).to_have_text(", ".join(sorted([ann, ben])))
    ben_page.get_by_role("button", name="Mark investigating").click()
    for page in (ann_page, ben_page):
        expect(page.get_by_test_id("incident-status")).to_have_text("investigating")
        timeline = page.get_by_role("list", name="Timeline")
        expect(timeline.get_by_text(f"{ben} set the status to investigating")).to_be_visible()

    ann_page.get_by_label("Comment").press_sequentially("Rolling back")
    expect(ben_page.get_by_test_id("typing")).to_have_text(f"{ann} is typing…")
    expect(ann_page.get_by_test_id("typing")).to_have_text("")  # never one's own
    screenshot(ben_page, "incident-page-typing")
    ann_page.get_by_role("button", name="Add comment").click()
    expect(ben_page.get_by_test_id("typing")).to_have_text("")  # the explicit stop
    for page in (ann_page, ben_page):
        timeline = page.get_by_role("list", name="Timeline")
        expect(timeline.get_by_text(f"{ann}: Rolling back")).to_be_visible()
    screenshot(ann_page, "incident-page-live")
    ben_page.context.close()
    expect(ann_page.get_by_test_id("present")).to_have_text(ann)  # after the 3 s leave delay
    ann_page.context.close()
