import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { backoffDelay } from "../src/core/backoff";
import { NotificationClient, type ClientOptions } from "../src/core/client";
import type { ClientError, ConnectionState, NotificationData, NotificationStats } from "../src/core/types";
import {
  TestServer,
  WebSocket,
  establish,
  eventually,
  notification,
  send,
  stats,
  unsignedToken,
} from "./server";

let server: TestServer;
let url: string;
let client: NotificationClient | undefined;

interface Observed {
  states: ConnectionState[];
  notifications: NotificationData[];
  stats: NotificationStats[];
  errors: ClientError[];
  resyncs: number;
}

function start(options: Partial<ClientOptions> = {}): Observed {
  const seen: Observed = { states: [], notifications: [], stats: [], errors: [], resyncs: 0 };
  client = new NotificationClient({
    url,
    getToken: () => "token-1",
    WebSocket: WebSocket as unknown as ClientOptions["WebSocket"],
    reconnectInterval: 20,
    onStateChange: (s) => seen.states.push(s),
    onNotification: (n) => seen.notifications.push(n),
    onStatsUpdate: (s) => seen.stats.push(s),
    onError: (e) => seen.errors.push(e),
    onResync: () => seen.resyncs++,
    ...options,
  });
  client.connect();
  return seen;
}

beforeEach(async () => {
  server = new TestServer();
  url = await server.start();
});

afterEach(async () => {
  client?.disconnect();
  client = undefined;
  await server.stop();
});

describe("backoffDelay", () => {
  it("waits about reconnectInterval before the first retry, then doubles, jittered ±20 % and capped", () => {
    expect(backoffDelay(0, 5000, 60000, () => 0.5)).toBe(5000);
    expect(backoffDelay(0, 5000, 60000, () => 0)).toBe(4000);
    expect(backoffDelay(0, 5000, 60000, () => 0.999999)).toBe(6000);
    expect(backoffDelay(1, 5000, 60000, () => 0.5)).toBe(10000);
    expect(backoffDelay(3, 5000, 60000, () => 0.5)).toBe(40000);
    expect(backoffDelay(3, 5000, 60000, () => 0)).toBe(32000);
    expect(backoffDelay(10, 5000, 60000, () => 0.999999)).toBe(60000);
    expect(backoffDelay(10, 5000, 60000, () => 0)).toBe(48000);
  });
});

describe("NotificationClient", () => {
  it("goes connecting → connected on connection:established with the token in the URL", async () => {
    const seen = start();
    await eventually(() => client?.state === "connected", "connected");
    expect(seen.states).toEqual(["connecting", "connected"]);
    expect(server.last.params.get("token")).toBe("token-1");
    expect(server.last.params.has("since")).toBe(false);
    expect(seen.resyncs).toBe(1);
  });

  it("drops duplicate events and stats that arrive out of order", async () => {
    const seen = start();
    await eventually(() => client?.state === "connected", "connected");
    const c = server.last;
    send(c, "notification:new", notification("a"), 1);
    send(c, "notification:new", notification("a"), 1);
    send(c, "stats:updated", stats(2, 2), 2);
    send(c, "notification:new", notification("b"), 2);
    send(c, "stats:updated", stats(1, 1), 1);
    send(c, "notification:new", notification("old"), 1);
    send(c, "stats:updated", stats(3, 3), 3);
    await eventually(() => seen.stats.length === 2, "two stats");
    expect(seen.notifications.map((n) => n.id)).toEqual(["a", "b"]);
    expect(seen.stats.map((s) => s.unread)).toEqual([2, 3]);
    expect(client?.lastSeq).toBe(2);
  });

  it("reconnects after a server restart (1012) resuming with since=<last seq>", async () => {
    const seen = start();
    await eventually(() => client?.state === "connected", "connected");
    send(server.last, "notification:new", notification("a"), 7);
    await eventually(() => seen.notifications.length === 1, "first notification");
    server.last.socket.close(1012, "restarting");
    await eventually(() => server.connections.length === 2 && client?.state === "connected", "reconnected");
    expect(server.last.params.get("since")).toBe("7");
    expect(seen.states).toEqual(["connecting", "connected", "disconnected", "connecting", "connected"]);
    expect(seen.resyncs).toBe(1);
  });

  it("asks for a reload when the server could not recover the gap", async () => {
    server.onConnection = (c, i) => establish(c, { recovered: i === 0, seq: i === 0 ? 0 : 40 });
    const seen = start();
    await eventually(() => client?.state === "connected", "connected");
    server.last.socket.close(1001, "going away");
    await eventually(() => server.connections.length === 2 && client?.state === "connected", "reconnected");
    expect(seen.resyncs).toBe(2);
    send(server.last, "notification:new", notification("live"), 41);
    await eventually(() => seen.notifications.length === 1, "live event after reload");
  });

  it("gives up with reconnect_exhausted after maxReconnectAttempts failed attempts", async () => {
    server.onConnection = (c) => c.socket.close(1012, "restarting");
    const seen = start({ maxReconnectAttempts: 3, reconnectInterval: 5 });
    await eventually(() => client?.state === "error", "error state");
    expect(server.connections.length).toBe(4);
    expect(seen.errors.map((e) => e.code)).toEqual(["reconnect_exhausted"]);
  });

  it("resets the attempt count after a successful connection", async () => {
    // Fails twice, succeeds, is dropped, fails once more: only a reset count allows the retries.
    server.onConnection = (c, i) => (i === 2 ? establish(c) : c.socket.close(1012));
    start({ maxReconnectAttempts: 2, reconnectInterval: 5 });
    await eventually(() => client?.state === "connected", "connected on third try");
    server.onConnection = (c, i) => (i >= 4 ? establish(c) : c.socket.close(1012));
    server.last.socket.close(1012);
    await eventually(() => server.connections.length === 5 && client?.state === "connected", "connected again");
  });

  it.each([1001, 1006, 4008, 4029])("reconnects with backoff after close %i", async (code) => {
    server.onConnection = (c, i) => (i === 0 ? establish(c) : establish(c, { seq: 0 }));
    const seen = start();
    await eventually(() => client?.state === "connected", "connected");
    if (code === 1006) server.last.socket.terminate();
    else server.last.socket.close(code);
    await eventually(() => server.connections.length === 2 && client?.state === "connected", "reconnected");
    expect(seen.states).toEqual(["connecting", "connected", "disconnected", "connecting", "connected"]);
  });

  it("backs off instead of looping when fresh tokens keep being refused (4002)", async () => {
    let issued = 0;
    server.onConnection = (c) => c.socket.close(4002, "invalid token");
    const seen = start({ getToken: () => `token-${++issued}`, maxReconnectAttempts: 2, reconnectInterval: 5 });
    await eventually(() => client?.state === "error", "error state");
    expect(server.connections.length).toBe(3);
    expect(issued).toBe(3);
    expect(seen.errors.map((e) => e.code)).toEqual(["reconnect_exhausted"]);
  });

  it.each([4001, 4003])("stops and reports an auth error on close %i", async (code) => {
    server.onConnection = (c) => c.socket.close(code, "auth");
    const seen = start({ reconnectInterval: 1 });
    await eventually(() => client?.state === "error", "error state");
    expect(seen.errors).toEqual([{ code: "auth", message: "auth", closeCode: code }]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(server.connections.length).toBe(1);
  });

  it("fetches a fresh token on 4002 and reconnects with it at once", async () => {
    let issued = 0;
    start({ getToken: () => `token-${++issued}`, reconnectInterval: 60000 });
    await eventually(() => client?.state === "connected", "connected");
    server.last.socket.close(4002, "token expired");
    await eventually(() => server.connections.length === 2 && client?.state === "connected", "reconnected");
    expect(server.last.params.get("token")).toBe("token-2");
  });

  it("treats a missing pong as a dead connection and reconnects", async () => {
    start({ pingInterval: 30, pongTimeout: 30 });
    await eventually(() => client?.state === "connected", "connected");
    await eventually(() => server.connections.length >= 2, "a second connection after the pong timeout");
    expect(server.connections[0].received).toContainEqual({ type: "ping" });
  });

  it("abandons a handshake that is never established and tries again", async () => {
    server.onConnection = (c, i) => (i === 0 ? undefined : establish(c));
    start({ connectTimeout: 50 });
    await eventually(() => server.connections.length === 2 && client?.state === "connected", "second try");
  });

  it("keeps a connection whose pings are answered", async () => {
    server.onConnection = (c) => {
      establish(c);
      c.socket.on("message", () => send(c, "pong", {}));
    };
    start({ pingInterval: 20, pongTimeout: 1000 });
    await eventually(() => (server.last?.received.length ?? 0) >= 5, "five pings answered");
    expect(server.connections.length).toBe(1);
    expect(client?.state).toBe("connected");
  });

  it("refreshes the token in-band before it expires", async () => {
    let issued = 0;
    start({ getToken: () => unsignedToken("u1", 30 + issued++), refreshBeforeExpiry: 60000 });
    await eventually(() => client?.state === "connected", "connected");
    const auth = await eventually(
      () => server.last.received.find((m) => (m as { type: string }).type === "auth"),
      "an auth message",
    );
    expect((auth as { token: string }).token).not.toBe(server.last.params.get("token"));
    expect(server.connections.length).toBe(1);
  });

  it("opens only one socket when connect, disconnect and connect run in one tick", async () => {
    start();
    client?.disconnect();
    client?.connect();
    await eventually(() => client?.state === "connected", "connected");
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(server.connections.length).toBe(1);
  });

  it("disconnect() closes with 1000 and never reconnects", async () => {
    const seen = start();
    await eventually(() => client?.state === "connected", "connected");
    const closed = new Promise<number>((resolve) => server.last.socket.once("close", resolve));
    client?.disconnect();
    expect(await closed).toBe(1000);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(server.connections.length).toBe(1);
    expect(seen.states.at(-1)).toBe("disconnected");
  });
});
