/**
 * ChannelSubscription and the typing helpers against a real ws server: subscribe with the
 * token, resubscribe after a reconnect with since = last channel seq, duplicate updates
 * dropped, refusals, typing expiry and renewal.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ChannelSubscription, TypingSender, TypingTracker } from "../src/core/channels";
import type { IncidentUpdate } from "../src/core/types";
import { NotificationClient, type ClientOptions } from "../src/core/client";
import { TestServer, WebSocket, eventually, send, type Accepted } from "./server";

let server: TestServer;
let client: NotificationClient;

const CHANNEL = "incident:42";

function update(seq: number): Partial<IncidentUpdate> {
  const change = {
    type: "incident.comment_added",
    event_id: `e${seq}`,
    occurred_at: "",
    comment: { id: `c${seq}`, excerpt: "looking" },
    assignee: null,
    previous_assignee: null,
    previous_status: null,
    new_status: null,
    resolution: null,
  } as const;
  return { channel: CHANNEL, seq, change };
}

function subscribes(c: Accepted): Record<string, unknown>[] {
  return (c.received as Record<string, unknown>[]).filter((m) => m.type === "subscribe");
}

beforeEach(async () => {
  server = new TestServer();
  const url = await server.start();
  client = new NotificationClient({
    url,
    getToken: () => "token-1",
    WebSocket: WebSocket as unknown as ClientOptions["WebSocket"],
    reconnectInterval: 20,
  });
  client.connect();
  await eventually(() => client.state === "connected", "connected");
});

afterEach(async () => {
  client.disconnect();
  await server.stop();
});

describe("ChannelSubscription", () => {
  it("subscribes, drops repeated updates and resubscribes after a reconnect with since", async () => {
    const seen: number[] = [];
    const sub = new ChannelSubscription(client, CHANNEL, {
      token: async () => "channel-token",
      onUpdate: (u) => seen.push(u.seq),
    });
    sub.start();
    await eventually(() => subscribes(server.last).length === 1, "subscribe sent");
    expect(subscribes(server.last)[0]).toEqual({ type: "subscribe", channel: CHANNEL, token: "channel-token" });
    send(server.last, "subscribed", { channel: CHANNEL, seq: 3, recovered: true });
    await eventually(() => sub.state === "subscribed", "subscribed");
    for (const seq of [3, 4, 5, 5]) send(server.last, "incident:updated", update(seq));
    send(server.last, "incident:updated", { ...update(9), channel: "incident:other" });
    await eventually(() => seen.length === 2, "two updates");

    server.last.socket.close(1012, "restarting");
    await eventually(() => server.connections.length === 2 && subscribes(server.last).length === 1, "again");
    expect(subscribes(server.last)[0]).toMatchObject({ channel: CHANNEL, since: 5 });
    send(server.last, "subscribed", { channel: CHANNEL, seq: 6, recovered: true });
    send(server.last, "incident:updated", update(5));
    send(server.last, "incident:updated", update(6));
    await eventually(() => seen.length === 3, "the missed update");
    expect(seen).toEqual([4, 5, 6]);
    sub.stop();
    await eventually(
      () => (server.last.received as { type: string }[]).some((m) => m.type === "unsubscribe"),
      "unsubscribe sent",
    );
  });

  it("reports a refusal and a gap it cannot recover", async () => {
    let resyncs = 0;
    const refused = new ChannelSubscription(client, "incident:7", {});
    refused.start();
    await eventually(() => subscribes(server.last).length === 1, "subscribe sent");
    send(server.last, "error", { code: "forbidden_channel", message: "no", channel: "incident:7" });
    await eventually(() => refused.state === "refused", "refused");
    expect(refused.error?.code).toBe("forbidden_channel");

    const behind = new ChannelSubscription(client, CHANNEL, { since: 1, onResync: () => resyncs++ });
    behind.start();
    await eventually(() => subscribes(server.last).length === 2, "second subscribe");
    expect(subscribes(server.last)[1]).toMatchObject({ channel: CHANNEL, since: 1 });
    send(server.last, "subscribed", { channel: CHANNEL, seq: 40, recovered: false });
    await eventually(() => resyncs === 1, "resync");
    expect(behind.lastSeq).toBe(40);
  });
});

describe("typing helpers", () => {
  it("shows a typist until 5 s without renewal or an explicit stop", () => {
    let now = 1000;
    const shown: string[][] = [];
    const tracker = new TypingTracker((t) => shown.push(t), 5000, () => now);
    tracker.notice({ user_id: "bob", channel: CHANNEL, state: "start" });
    now += 4000;
    tracker.notice({ user_id: "carol", channel: CHANNEL, state: "start" });
    expect(tracker.typists()).toEqual(["bob", "carol"]);
    now += 1500; // bob's start is 5.5 s old
    tracker.notice({ user_id: "carol", channel: CHANNEL, state: "start" });
    expect(tracker.typists()).toEqual(["carol"]);
    tracker.notice({ user_id: "carol", channel: CHANNEL, state: "stop" });
    expect(tracker.typists()).toEqual([]);
    tracker.dispose();
  });

  it("sends a start at most once per 2 s while typing, and a stop only after a start", () => {
    let now = 0;
    const sent: string[] = [];
    const sender = new TypingSender((s) => sent.push(s) > 0, 2000, () => now);
    sender.stop();
    sender.keystroke();
    now = 1999;
    sender.keystroke();
    now = 2000;
    sender.keystroke();
    sender.stop();
    expect(sent).toEqual(["start", "start", "stop"]);
  });
});
