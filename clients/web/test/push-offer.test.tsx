// @vitest-environment jsdom
/**
 * The bell's "Notify me when I'm away" against a real local HTTP server playing the push
 * service's devices API. jsdom has no Web Push, so the browser's own pieces (permission,
 * service worker registration, PushManager) are stood in for; what is checked is what the
 * person sees and what the server receives.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { act } from "react";
import { createRoot, type Root } from "react-dom/client";
import { afterEach, beforeEach, expect, it } from "vitest";
import { PushOffer } from "../src/react/PushOffer";
import { eventually } from "./server";

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const KEY =
  "BNKrdSeu-SXwXKFQ-NTRY1o57omwkEFM7nhPjdVRwF47DnxI2i7KNWXzXdoc3146eXOWrW7dzT5xr39G9teO7ZA";
let server: Server;
let base: string;
let root: Root | undefined;
let refuse: { status: number; code: string } | null = null;
const posted: unknown[] = [];
const deleted: string[] = [];
let permission: NotificationPermission = "granted";
let current: { endpoint: string } | null = null;

function standInBrowserPush(): void {
  const subscription = {
    endpoint: "https://push.example/send/abc",
    toJSON: () => ({ endpoint: "https://push.example/send/abc", keys: { p256dh: "p", auth: "a" } }),
    unsubscribe: async () => {
      current = null;
      return true;
    },
  };
  const registration = {
    active: { postMessage: () => undefined },
    pushManager: {
      getSubscription: async () => current,
      subscribe: async () => {
        current = subscription;
        return subscription;
      },
    },
  };
  Object.assign(window, { PushManager: class {}, Notification: { requestPermission: async () => permission } });
  Object.defineProperty(navigator, "serviceWorker", {
    configurable: true,
    value: {
      register: async () => registration,
      ready: Promise.resolve(registration),
      getRegistration: async () => registration,
    },
  });
}

beforeEach(async () => {
  posted.length = 0;
  deleted.length = 0;
  refuse = null;
  permission = "granted";
  current = null;
  server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      const json = (status: number, value: unknown) => {
        response.writeHead(status, { "Content-Type": "application/json" });
        response.end(JSON.stringify(value));
      };
      if (request.headers.authorization !== "Bearer alice-token") return json(401, {});
      if (request.url === "/api/v1/push/vapid-public-key") return json(200, { public_key: KEY });
      if (request.url === "/api/v1/push/subscriptions" && request.method === "POST") {
        if (refuse) return json(refuse.status, { error: { code: refuse.code, message: "no" } });
        posted.push(JSON.parse(body));
        return json(201, { id: "device-1" });
      }
      if (request.url?.startsWith("/api/v1/push/subscriptions?") && request.method === "DELETE") {
        deleted.push(request.url);
        response.writeHead(204);
        return response.end();
      }
      json(404, {});
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  act(() => root?.unmount());
  root = undefined;
  document.body.innerHTML = "";
  Reflect.deleteProperty(navigator, "serviceWorker");
  await new Promise((resolve) => server.close(resolve));
});

function mount(): HTMLElement {
  const host = document.createElement("div");
  document.body.append(host);
  root = createRoot(host);
  act(() =>
    root!.render(<PushOffer pushUrl={base} apiUrl={base} getToken={() => "alice-token"} />),
  );
  return host;
}

const offer = (host: HTMLElement) => host.querySelector<HTMLElement>("[data-testid=tocsin-push]");

it("is not offered where the browser has no Web Push", () => {
  const host = mount();
  expect(offer(host)).toBeNull();
});

it("turns push on: the subscription reaches the push service, then it can be turned off", async () => {
  standInBrowserPush();
  const host = mount();
  await eventually(() => offer(host)?.dataset.state === "off", "the offer shown, push off");
  await act(async () => host.querySelector("button")!.click());
  await eventually(() => offer(host)?.dataset.state === "on", "push on");
  expect(posted).toEqual([
    { endpoint: "https://push.example/send/abc", keys: { p256dh: "p", auth: "a" } },
  ]);
  expect(host.textContent).toContain("Stop notifying me when I'm away");
  await act(async () => host.querySelector("button")!.click());
  await eventually(() => offer(host)?.dataset.state === "off", "the offer shown, push off");
  expect(deleted).toEqual([
    `/api/v1/push/subscriptions?endpoint=${encodeURIComponent("https://push.example/send/abc")}`,
  ]);
});

it("says why when the person blocked notifications, and when the server refuses", async () => {
  standInBrowserPush();
  permission = "denied";
  const host = mount();
  await eventually(() => offer(host)?.dataset.state === "off", "the offer shown, push off");
  await act(async () => host.querySelector("button")!.click());
  await eventually(() => offer(host)?.dataset.state === "failed", "a refusal shown");
  expect(host.textContent).toContain("Notifications are blocked for this site");
  expect(posted).toEqual([]);
  permission = "granted";
  refuse = { status: 409, code: "too_many_devices" };
  await act(async () => host.querySelector("button")!.click());
  await eventually(() => host.textContent!.includes("Too many devices"), "the server's refusal");
});
