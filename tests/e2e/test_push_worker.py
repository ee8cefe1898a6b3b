"""The push service worker in a real headless Chromium: a push delivered through the DevTools
protocol (`ServiceWorker.deliverPushMessage`, what a push service's delivery does) is shown
as a notification, and clicking it marks the notification read through the real API.

The payload is the push service's own (`PushMessage.from_notification`) for a notification
the real notification service created. The browser's own subscription cannot be made here
(Chromium's push service is not reachable offline); tests/push covers the server side of it.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx

from contracts.notifications import NotificationData
from identity import mint_token
from services.push.message import PushMessage
from tests.support.demo_system import JWT, System
from tests.support.waiting import eventually_sync

REGISTER = """async ([apiUrl, token]) => {
  const registration = await navigator.serviceWorker.register("/tocsin-push-sw.js");
  const ready = await navigator.serviceWorker.ready;
  (registration.active || ready.active).postMessage({type: "tocsin-push-config", apiUrl, token});
}"""
CONFIGURED = """async () => {
  const stored = await (await caches.open("tocsin-push")).match("/tocsin-push-config");
  return stored ? (await stored.json()).apiUrl : null;
}"""
SHOWN = """async () => {
  const registration = await navigator.serviceWorker.ready;
  return (await registration.getNotifications()).map(n => ({
    title: n.title, body: n.body, tag: n.tag, data: n.data, sticky: n.requireInteraction}));
}"""
CLICK = """async () => {
  const [notification] = await self.registration.getNotifications();
  self.dispatchEvent(new NotificationEvent("notificationclick", {notification}));
}"""


def fetch(system: System, user: str, notification_id: str) -> dict[str, Any]:
    response = httpx.get(
        f"{system.api_url}/api/v1/notifications/{notification_id}",
        headers={"Authorization": f"Bearer {mint_token(JWT, user)}"},
        timeout=5,
    )
    assert response.status_code == 200, response.text
    notification: dict[str, Any] = response.json()
    return notification


def is_read(system: System, user: str, notification_id: str) -> bool:
    return bool(fetch(system, user, notification_id)["is_read"])


def test_a_push_is_shown_and_clicking_it_marks_the_notification_read(
    system: System, context: Any
) -> None:
    user = system.new_user()
    title = f"Payments are failing {uuid.uuid4().hex[:6]}"
    [made] = system.create(
        [user],
        title,
        priority="critical",
        entity_url="/incidents/INC-42",
        entity_type="incident",
        entity_id="INC-42",
    )
    created = fetch(system, user, made["id"])
    payload = PushMessage.from_notification(
        NotificationData.model_validate(created), user, 60
    ).payload.decode()

    context.grant_permissions(["notifications"], origin=system.demo_url)
    page = context.new_page()
    page.goto(f"{system.demo_url}/")
    registrations: list[dict[str, Any]] = []
    versions: list[dict[str, Any]] = []
    cdp = context.new_cdp_session(page)
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda e: registrations.extend(e["registrations"]),
    )
    cdp.on("ServiceWorker.workerVersionUpdated", lambda e: versions.extend(e["versions"]))
    cdp.send("ServiceWorker.enable")
    page.evaluate(REGISTER, [system.api_url, mint_token(JWT, user)])
    eventually_sync(
        lambda: page.evaluate(CONFIGURED),
        lambda url: url == system.api_url,
        what="worker configured",
    )
    registration = eventually_sync(
        lambda: next((r for r in registrations if r["scopeURL"] == f"{system.demo_url}/"), None),
        lambda r: r is not None,
        what="service worker registration",
    )

    # A push reaches only an activated worker.
    eventually_sync(
        lambda: [
            v
            for v in versions
            if v["registrationId"] == registration["registrationId"] and v["status"] == "activated"
        ],
        what="service worker activated",
    )
    [worker] = eventually_sync(lambda: context.service_workers, what="worker attached")
    assert worker.evaluate("() => Notification.permission") == "granted"
    # DevTools drops a push that arrives while Chromium is still storing the registration
    # (nothing reports it), so the push is delivered again until it is shown. The same `tag`
    # makes a second delivery replace the first: one notification either way.
    delivered_at = [0.0]

    def deliver_then_look() -> list[dict[str, Any]]:
        if time.monotonic() - delivered_at[0] > 3:
            delivered_at[0] = time.monotonic()
            cdp.send(
                "ServiceWorker.deliverPushMessage",
                {
                    "origin": system.demo_url,
                    "registrationId": registration["registrationId"],
                    "data": payload,
                },
            )
        shown: list[dict[str, Any]] = page.evaluate(SHOWN)
        return shown

    [shown] = eventually_sync(
        deliver_then_look, lambda n: len(n) == 1, timeout=30, what="notification shown"
    )
    assert shown["title"] == title
    assert shown["body"] == created["message"]
    assert shown["data"] == {"id": created["id"], "entity_url": "/incidents/INC-42"}
    assert shown["sticky"] is True  # critical stays until dismissed
    assert not is_read(system, user, created["id"])

    worker.evaluate(CLICK)

    eventually_sync(lambda: is_read(system, user, created["id"]), what="marked read")
    eventually_sync(lambda: page.evaluate(SHOWN), lambda n: n == [], what="notification closed")
