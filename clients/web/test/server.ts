import { type AddressInfo } from "node:net";
import { WebSocket, WebSocketServer } from "ws";
import type { NotificationData, NotificationStats } from "../src/core/types";

/** One connection the test server accepted, with the query it was opened with. */
export interface Accepted {
  socket: WebSocket;
  params: URLSearchParams;
  received: unknown[];
}

/**
 * A real WebSocket server speaking the realtime protocol as the test scripts it.
 * `onConnection` decides what happens to each connection; by default it is established.
 */
export class TestServer {
  readonly connections: Accepted[] = [];
  private wss!: WebSocketServer;
  onConnection: (c: Accepted, index: number) => void = (c) => establish(c);

  async start(): Promise<string> {
    this.wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    await new Promise<void>((resolve) => this.wss.once("listening", resolve));
    this.wss.on("connection", (socket, request) => {
      const accepted: Accepted = {
        socket,
        params: new URL(request.url ?? "/", "http://x").searchParams,
        received: [],
      };
      socket.on("message", (raw) => accepted.received.push(JSON.parse(String(raw))));
      this.connections.push(accepted);
      this.onConnection(accepted, this.connections.length - 1);
    });
    const { port } = this.wss.address() as AddressInfo;
    return `ws://127.0.0.1:${port}`;
  }

  get last(): Accepted {
    return this.connections[this.connections.length - 1];
  }

  async stop(): Promise<void> {
    for (const client of this.wss.clients) client.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}

export function send(c: Accepted, event: string, data: unknown, seq?: number): void {
  c.socket.send(JSON.stringify({ event, data, timestamp: new Date().toISOString(), seq }));
}

export function establish(c: Accepted, extra: { recovered?: boolean; seq?: number } = {}): void {
  send(c, "connection:established", {
    user_id: "u1",
    timestamp: new Date().toISOString(),
    message: "connected",
    recovered: extra.recovered ?? true,
    seq: extra.seq ?? 0,
  });
}

/** A notification as the API and the socket send it: every field, null when unset. */
export function notification(id: string): NotificationData {
  return {
    id,
    type: "incident_created",
    priority: "high",
    title: `Notification ${id}`,
    message: "",
    entity_type: null,
    entity_id: null,
    entity_url: null,
    is_read: false,
    created_at: new Date().toISOString(),
  };
}

/** Counters as the API and `stats:updated` send them (every unread one is `high` here). */
export function stats(total: number, unread: number): NotificationStats {
  return { total, unread, unread_by_priority: { low: 0, normal: 0, high: unread, critical: 0 } };
}

/** Polls `probe` until it holds or the deadline passes (then throws with what was seen). */
export async function eventually<T>(probe: () => T, what: string, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${String(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export function unsignedToken(sub: string, expInSeconds: number): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
  return `${part({ alg: "HS256" })}.${part({ sub, exp: Math.floor(Date.now() / 1000) + expInSeconds })}.sig`;
}

export { WebSocket };
