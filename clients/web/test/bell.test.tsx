// @vitest-environment jsdom
/**
 * NotificationBell rendered in jsdom against a real REST server and a real ws server:
 * the badge cap, the accessible label, live updates and toasts.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { act } from "react";
import { createRoot, type Root } from "react-dom/client";
import { afterEach, beforeEach, expect, it } from "vitest";
import { NotificationBell } from "../src/react/NotificationBell";
import { TestServer, eventually, notification, send, stats } from "./server";

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

let ws: TestServer;
let wsUrl: string;
let rest: Server;
let apiUrl: string;
let root: Root | undefined;
let unread = 150;
const reads: string[] = [];

beforeEach(async () => {
  ws = new TestServer();
  wsUrl = await ws.start();
  unread = 150;
  reads.length = 0;
  rest = createServer((request, response) => {
    const path = request.url ?? "";
    response.setHeader("Content-Type", "application/json");
    response.setHeader("Access-Control-Allow-Origin", "*");
    if (request.method === "POST") reads.push(path);
    if (path.startsWith("/api/v1/notifications/stats")) {
      response.end(JSON.stringify(stats(200, unread)));
    } else if (path.startsWith("/api/v1/notifications?")) {
      response.end(JSON.stringify({ items: [notification("old-1")], next_cursor: null }));
    } else {
      response.end("{}");
    }
  });
  await new Promise<void>((resolve) => rest.listen(0, "127.0.0.1", resolve));
  apiUrl = `http://127.0.0.1:${(rest.address() as AddressInfo).port}`;
});

afterEach(async () => {
  await act(async () => root?.unmount());
  root = undefined;
  document.body.innerHTML = "";
  await ws.stop();
  await new Promise((resolve) => rest.close(resolve));
});

async function renderBell(): Promise<HTMLElement> {
  const container = document.createElement("div");
  document.body.append(container);
  root = createRoot(container);
  await act(async () =>
    root!.render(<NotificationBell apiUrl={apiUrl} wsUrl={wsUrl} token="t" onNavigate={() => {}} />),
  );
  return container;
}

const $ = (selector: string) => document.querySelector<HTMLElement>(selector);

it("caps the badge at 99+ and says the full count in its label", async () => {
  await renderBell();
  await eventually(() => $(".tocsin-badge")?.textContent === "99+", "badge 99+");
  await eventually(() => $(".tocsin-dot")?.dataset.state === "connected", "green dot");
  expect($(".tocsin-bell")?.getAttribute("aria-label")).toBe(
    "Notifications, 150 unread. Live updates connected.",
  );
});

it("shows a toast and updates badge and list from live events", async () => {
  unread = 0;
  await renderBell();
  await eventually(() => $(".tocsin-dot")?.dataset.state === "connected", "connected");
  expect($(".tocsin-badge")).toBeNull();
  await act(async () => {
    send(ws.last, "notification:new", { ...notification("n1"), priority: "critical" }, 1);
    send(ws.last, "stats:updated", stats(201, 1), 1);
  });
  await eventually(() => $(".tocsin-badge")?.textContent === "1", "badge 1");
  const toast = $('.tocsin-toasts [data-notification-id="n1"]');
  expect(toast?.className).toContain("tocsin-p-critical");
  expect(toast?.getAttribute("role")).toBe("alert");
  expect($(".tocsin-toasts")?.getAttribute("aria-live")).toBe("polite");

  await act(async () => $(".tocsin-bell")?.click());
  expect([...document.querySelectorAll(".tocsin-item")].map((e) => e.getAttribute("data-notification-id"))).toEqual([
    "n1",
    "old-1",
  ]);
  await act(async () => $('.tocsin-item[data-notification-id="n1"]')?.click());
  await eventually(() => reads.includes("/api/v1/notifications/n1/read"), "POST read");
  expect($('.tocsin-item[data-notification-id="n1"]')?.dataset.unread).toBe("false");
  expect($(".tocsin-badge")).toBeNull();

  await act(async () => send(ws.last, "notification:deleted", { id: "old-1" }, 2));
  await eventually(() => !$('.tocsin-item[data-notification-id="old-1"]'), "deleted item gone");
});

it("turns the dot red when the connection drops", async () => {
  await renderBell();
  await eventually(() => $(".tocsin-dot")?.dataset.state === "connected", "connected");
  await act(async () => ws.last.socket.close(1012));
  await eventually(() => $(".tocsin-dot")?.dataset.state === "disconnected", "red dot");
  expect($(".tocsin-bell")?.title).toBe("Live updates disconnected; reconnecting");
});

it("does not toast history replayed after a reconnect, and keeps the list newest first", async () => {
  await renderBell();
  await eventually(() => $(".tocsin-dot")?.dataset.state === "connected", "connected");
  await act(async () => $(".tocsin-bell")?.click());
  await eventually(() => $('.tocsin-item[data-notification-id="old-1"]'), "REST list loaded");
  const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
  await act(async () => {
    send(ws.last, "notification:new", { ...notification("history"), created_at: hourAgo }, 5);
    send(ws.last, "notification:new", notification("fresh"), 6);
  });
  await eventually(() => $('.tocsin-toasts [data-notification-id="fresh"]'), "toast for the new one");
  expect($('.tocsin-toasts [data-notification-id="history"]')).toBeNull();
  const order = [...document.querySelectorAll(".tocsin-item")].map((e) => e.getAttribute("data-notification-id"));
  expect(order).toEqual(["fresh", "old-1", "history"]);
});
