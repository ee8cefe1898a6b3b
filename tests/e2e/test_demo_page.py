"""The demo page: signing in, sending to one demo user, broadcasting, and the demo server's API."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import expect

from tests.e2e.bell import BellPage
from tests.e2e.test_bell import title
from tests.support.demo_system import System


def test_signing_in_shows_the_bell_connected(system: System, context: Any) -> None:
    user = system.new_user()
    page = context.new_page()
    sockets: list[Any] = []
    page.on("websocket", lambda socket: sockets.append(socket))
    page.goto(system.demo_url)
    page.get_by_role("button", name=user).click()
    expect(page.get_by_test_id("signed-in-as")).to_have_text(f"Signed in as {user}")
    BellPage(page).expect_state("connected")
    expect(page.get_by_test_id("connection-status")).to_have_text("connected")
    # The demo renders in React StrictMode, which mounts effects twice: still one socket.
    assert len(sockets) == 1


def test_the_demo_form_sends_to_one_user_and_broadcast_reaches_everyone(
    system: System, context: Any
) -> None:
    carol, dave = system.new_user(), system.new_user()
    carol_tab = BellPage.open(context, system, carol)
    dave_tab = BellPage.open(context, system, dave)
    page = carol_tab.page
    direct = title("Hello dave")
    page.get_by_label("To").select_option(dave)
    page.get_by_label("Title").fill(direct)
    page.get_by_role("button", name="Send", exact=True).click()
    expect(dave_tab.toast(direct)).to_be_visible()
    dave_tab.expect_unread(1)
    carol_tab.expect_unread(0)

    everyone = title("Maintenance at noon")
    page.get_by_label("Title").fill(everyone)
    page.get_by_role("button", name="Broadcast to all demo users").click()
    for tab in (carol_tab, dave_tab):
        expect(tab.toast(everyone)).to_be_visible()
    carol_tab.expect_unread(1)
    dave_tab.expect_unread(2)

    dave_tab.open_panel()
    dave_tab.panel.get_by_role("link", name="View all notifications").click()
    full_page = dave_tab.page.get_by_role("region", name="All notifications")
    expect(full_page.get_by_text(direct)).to_be_visible()
    expect(full_page.get_by_text(everyone)).to_be_visible()


def test_demo_server_mints_tokens_only_for_demo_users(system: System) -> None:
    known = httpx.post(f"{system.demo_url}/demo/token", json={"user": system.users[0]})
    unknown = httpx.post(f"{system.demo_url}/demo/token", json={"user": "mallory"})
    invalid = httpx.post(f"{system.demo_url}/demo/send", json={"user": system.users[0]})

    assert known.status_code == 200 and known.json()["token"].count(".") == 2
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "unknown_user"
    assert invalid.status_code == 422
    assert invalid.json()["error"]["code"] == "invalid_request"


def test_demo_config_names_the_api_and_realtime_urls(system: System) -> None:
    config = httpx.get(f"{system.demo_url}/demo/config").json()

    assert config["api_url"] == system.api_url
    assert config["ws_url"] == f"ws://127.0.0.1:{system.realtime_port}"
    assert config["users"] == system.users
