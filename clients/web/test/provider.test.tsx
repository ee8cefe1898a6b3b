// @vitest-environment jsdom
/**
 * The zero-wiring client: one <TocsinProvider apiUrl getToken> at the root, and the hook and the
 * bell used exactly as the feature description writes them. A real HTTP server serves the REST
 * API and the WebSocket on one origin, as the gateway does.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { act, useEffect } from "react";
import { createRoot, type Root } from "react-dom/client";
import { WebSocketServer, type WebSocket } from "ws";
import { afterEach, beforeEach, expect, it } from "vitest";
import type { ClientError, ConnectionState } from "../src/core/types";
import { NotificationBell } from "../src/react/NotificationBell";
import { TocsinProvider } from "../src/react/TocsinProvider";
import { useNotificationWebSocket } from "../src/react/useNotificationWebSocket";
import { establish, eventually, notification, send, stats, type Accepted } from "./server";

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

let http: Server;
let wss: WebSocketServer;
let origin: string;
let root: Root | undefined;
const upgrades: { path: string; token: string | null }[] = [];
const sockets: Accepted[] = [];

beforeEach(async () => {
  upgrades.length = 0;
  sockets.length = 0;
  http = createServer((request, response) => {
    const path = request.url ?? "";
    response.setHeader("Content-Type", "application/json");
    response.setHeader("Access-Control-Allow-Origin", "*");
    response.setHeader("Access-Control-Allow-Headers", "authorization");
    if (path.startsWith("/api/v1/notifications/stats")) {
      response.end(JSON.stringify(stats(3, 2)));
    } else if (path.startsWith("/api/v1/notifications?")) {
      response.end(JSON.stringify({ items: [notification("old-1")], next_cursor: null }));
    } else {
      response.end("{}");
    }
  });
  wss = new WebSocketServer({ server: http });
  wss.on("connection", (socket: WebSocket, request: IncomingMessage) => {
    const url = new URL(request.url ?? "/", "http://x");
    upgrades.push({ path: url.pathname, token: url.searchParams.get("token") });
    const accepted: Accepted = { socket, params: url.searchParams, received: [] };
    sockets.push(accepted);
    establish(accepted);
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
});

afterEach(async () => {
  await act(async () => root?.unmount());
  root = undefined;
  document.body.innerHTML = "";
  for (const client of wss.clients) client.terminate();
  await new Promise((resolve) => wss.close(resolve));
  await new Promise((resolve) => http.close(resolve));
});

async function mount(element: React.ReactNode): Promise<void> {
  const container = document.createElement("div");
  document.body.append(container);
  root = createRoot(container);
  await act(async () => root!.render(element));
}

interface Seen {
  states: ConnectionState[];
  errors: ClientError[];
  titles: string[];
}

/** The description's MyComponent, as it is written there (plus what the test observes). */
function MyComponent({ seen }: { seen: Seen }) {
  const { isConnected, connectionState } = useNotificationWebSocket({
    onNotification: (n) => seen.titles.push(n.title),
    onError: (error) => seen.errors.push(error),
    autoReconnect: true,
    reconnectInterval: 5000,
    maxReconnectAttempts: 10,
  });
  useEffect(() => void seen.states.push(connectionState), [connectionState]);
  return (
    <div>
      Status: {connectionState}
      {isConnected && <span>Connected</span>}
    </div>
  );
}

const newSeen = (): Seen => ({ states: [], errors: [], titles: [] });

it("connects the description's hook through the provider, to the API's origin, with its token", async () => {
  const seen = newSeen();
  await mount(
    <TocsinProvider apiUrl={origin} getToken={() => "provider-token"}>
      <MyComponent seen={seen} />
    </TocsinProvider>,
  );
  await eventually(() => seen.states.includes("connected"), "connected");
  expect(upgrades).toEqual([{ path: "/api/v1/ws/notifications", token: "provider-token" }]);
  await act(async () => send(sockets[0], "notification:new", notification("n1"), 1));
  await eventually(() => seen.titles.length === 1, "notification delivered");
  expect(document.body.textContent).toContain("Status: connected");
  expect(seen.errors).toEqual([]);
});

it("without any token the hook says error and calls onError with the reason", async () => {
  const seen = newSeen();
  await mount(<MyComponent seen={seen} />);
  await eventually(() => seen.states.includes("error"), "error state");
  expect(seen.errors.map((e) => e.code)).toContain("token_unavailable");
  expect(seen.errors[0].message).toContain("TocsinProvider");
  expect(upgrades).toEqual([]);
});

it("when the provider's getToken has no token (signed out) the state is error with onError", async () => {
  const seen = newSeen();
  await mount(
    <TocsinProvider apiUrl={origin} getToken={() => null}>
      <MyComponent seen={seen} />
    </TocsinProvider>,
  );
  await eventually(() => seen.states.includes("error"), "error state");
  expect(seen.errors[0].code).toBe("token_unavailable");
  expect(upgrades).toEqual([]);
});

it("calls onError for a socket error (nothing listening at the socket URL)", async () => {
  const seen = newSeen();
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));
  await mount(
    <TocsinProvider apiUrl={`http://127.0.0.1:${port}`} getToken={() => "t"}>
      <MyComponent seen={seen} />
    </TocsinProvider>,
  );
  await eventually(() => seen.errors.some((e) => e.code === "socket_error"), "socket_error");
});

it("the bell, written as <NotificationBell />, loads and goes live from the provider alone", async () => {
  await mount(
    <TocsinProvider apiUrl={origin} getToken={() => "bell-token"}>
      <header>
        <NotificationBell />
      </header>
    </TocsinProvider>,
  );
  const $ = (selector: string) => document.querySelector<HTMLElement>(selector);
  await eventually(() => $(".tocsin-dot")?.dataset.state === "connected", "green dot");
  await eventually(() => $(".tocsin-badge")?.textContent === "2", "badge from REST");
  expect(upgrades).toEqual([{ path: "/api/v1/ws/notifications", token: "bell-token" }]);
});

it("the bell without a provider or token shows the error state instead of staying red for ever", async () => {
  const errors: ClientError[] = [];
  await mount(<NotificationBell apiUrl={origin} onError={(e) => errors.push(e)} />);
  const $ = (selector: string) => document.querySelector<HTMLElement>(selector);
  await eventually(() => $(".tocsin-dot")?.dataset.state === "error", "error dot");
  expect($(".tocsin-bell")?.title).toBe("Live updates unavailable");
  expect(errors.map((e) => e.code)).toContain("token_unavailable");
});
