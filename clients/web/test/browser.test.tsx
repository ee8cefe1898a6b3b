// @vitest-environment jsdom
/**
 * The hook under React StrictMode and the client's browser triggers (`online`, visibility),
 * in jsdom with its real WebSocket against a real ws server.
 */
import { StrictMode, act } from "react";
import { createRoot, type Root } from "react-dom/client";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { NotificationClient } from "../src/core/client";
import type { NotificationData } from "../src/core/types";
import {
  useNotificationWebSocket,
  type UseNotificationWebSocketOptions,
  type UseNotificationWebSocketResult,
} from "../src/react/useNotificationWebSocket";
import { TestServer, eventually, notification, send } from "./server";

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

let server: TestServer;
let url: string;
let root: Root | undefined;
let client: NotificationClient | undefined;
let latest: UseNotificationWebSocketResult | undefined;

function Probe(props: UseNotificationWebSocketOptions) {
  latest = useNotificationWebSocket(props);
  return null;
}

async function render(props: UseNotificationWebSocketOptions): Promise<void> {
  const container = document.createElement("div");
  document.body.append(container);
  root ??= createRoot(container);
  await act(async () =>
    root!.render(
      <StrictMode>
        <Probe {...props} />
      </StrictMode>,
    ),
  );
}

beforeEach(async () => {
  server = new TestServer();
  url = await server.start();
});

afterEach(async () => {
  await act(async () => root?.unmount());
  root = undefined;
  client?.disconnect();
  client = undefined;
  await server.stop();
});

describe("useNotificationWebSocket", () => {
  it("opens exactly one socket under StrictMode and reports the seed's return values", async () => {
    await render({ url, token: "t" });
    await eventually(() => latest?.isConnected, "connected");
    expect(latest?.connectionState).toBe("connected");
    expect(latest?.lastMessage?.event).toBe("connection:established");
    expect(server.connections.length).toBe(1);
  });

  it("delivers notifications to the latest callback without reconnecting on re-render", async () => {
    const first: NotificationData[] = [];
    const second: NotificationData[] = [];
    await render({ url, token: "t", onNotification: (n) => first.push(n) });
    await eventually(() => latest?.isConnected, "connected");
    await render({ url, token: "t", onNotification: (n) => second.push(n) });
    send(server.last, "notification:new", notification("n1"), 1);
    await eventually(() => second.length === 1, "notification in the new callback");
    expect(first).toEqual([]);
    expect(server.connections.length).toBe(1);
  });

  it("closes its socket with 1000 on unmount and leaves nothing running", async () => {
    let disconnects = 0;
    await render({ url, token: "t", onDisconnect: () => disconnects++ });
    await eventually(() => latest?.isConnected, "connected");
    const closed = new Promise<number>((resolve) => server.last.socket.once("close", resolve));
    await act(async () => root?.unmount());
    root = undefined;
    expect(await closed).toBe(1000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(server.connections.length).toBe(1);
    expect(disconnects).toBe(0);
  });

  it("connect() and disconnect() control the socket by hand", async () => {
    let disconnects = 0;
    await render({ url, token: "t", autoConnect: false, onDisconnect: () => disconnects++ });
    expect(latest?.connectionState).toBe("disconnected");
    await act(async () => latest?.connect());
    await eventually(() => latest?.isConnected, "connected");
    await act(async () => latest?.disconnect());
    expect(latest?.connectionState).toBe("disconnected");
    expect(disconnects).toBe(1);
    expect(server.connections.length).toBe(1);
  });
});

describe("NotificationClient in a browser", () => {
  function startWaiting(): void {
    client = new NotificationClient({
      url,
      getToken: () => "t",
      reconnectInterval: 60_000,
      random: () => 0.99,
    });
    client.connect();
  }

  it("reconnects at once when the browser comes back online", async () => {
    startWaiting();
    await eventually(() => client?.state === "connected", "connected");
    server.last.socket.close(1012);
    await eventually(() => client?.state === "disconnected", "waiting to reconnect");
    window.dispatchEvent(new Event("online"));
    await eventually(() => client?.state === "connected" && server.connections.length === 2, "back");
  });

  it("reconnects at once when the page is shown after a long hidden period", async () => {
    let visibility: DocumentVisibilityState = "visible";
    Object.defineProperty(document, "visibilityState", { configurable: true, get: () => visibility });
    client = new NotificationClient({
      url,
      getToken: () => "t",
      reconnectInterval: 60_000,
      random: () => 0.99,
      longHidden: 0,
    });
    client.connect();
    await eventually(() => client?.state === "connected", "connected");
    visibility = "hidden";
    document.dispatchEvent(new Event("visibilitychange"));
    server.last.socket.close(1001);
    await eventually(() => client?.state === "disconnected", "waiting to reconnect");
    visibility = "visible";
    document.dispatchEvent(new Event("visibilitychange"));
    await eventually(() => client?.state === "connected" && server.connections.length === 2, "back");
  });
});
