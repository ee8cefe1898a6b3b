// @vitest-environment jsdom
/**
 * usePresence against a real ws server: the subscribe asks for presence (with the channel
 * token), `presence:members` then joins and leaves drive the list, a reconnect resubscribes
 * and the new `presence:members` replaces the list, and riding on a useChannel subscription.
 */
import { act } from "react";
import { createRoot, type Root } from "react-dom/client";
import { afterEach, beforeEach, expect, it } from "vitest";
import { NotificationClient, type ClientOptions } from "../src/core/client";
import { PresenceRoster } from "../src/core/presence";
import { useChannel } from "../src/react/useChannel";
import { usePresence } from "../src/react/usePresence";
import { TestServer, WebSocket, eventually, send, type Accepted } from "./server";

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const CHANNEL = "board:standup-7";
let server: TestServer;
let client: NotificationClient;
let root: Root | undefined;
let container: HTMLDivElement;

function subscribes(c: Accepted): Record<string, unknown>[] {
  return (c.received as Record<string, unknown>[]).filter((m) => m.type === "subscribe");
}

function shown(): string {
  return container.querySelector("[data-members]")?.textContent ?? "";
}

async function serverSends(event: string, data: unknown): Promise<void> {
  await act(async () => {
    send(server.last, event, data);
    await new Promise((resolve) => setTimeout(resolve, 20));
  });
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
  container = document.createElement("div");
  document.body.append(container);
});

afterEach(async () => {
  await act(async () => root?.unmount());
  root = undefined;
  container.remove();
  client.disconnect();
  await server.stop();
});

function Members(props: { token?: string }) {
  const { members, state } = usePresence(CHANNEL, { client, token: props.token });
  return <p data-members data-state={state}>{members.join(",")}</p>;
}

it("lists the channel's members from members, joins and leaves, across a reconnect", async () => {
  root = createRoot(container);
  await act(async () => root?.render(<Members token="channel-token" />));
  await eventually(() => subscribes(server.last).length === 1, "subscribe sent");
  expect(subscribes(server.last)[0]).toEqual({
    type: "subscribe",
    channel: CHANNEL,
    token: "channel-token",
    presence: true,
  });
  await serverSends("subscribed", { channel: CHANNEL, seq: 0, recovered: true });
  await serverSends("presence:members", { channel: CHANNEL, user_ids: ["bob", "alice"] });
  expect(shown()).toBe("alice,bob");
  await serverSends("presence:join", { channel: CHANNEL, user_id: "carol", action: "join" });
  await serverSends("presence:join", { channel: "board:other", user_id: "dave", action: "join" });
  await serverSends("presence:leave", { channel: CHANNEL, user_id: "alice", action: "leave" });
  expect(shown()).toBe("bob,carol");

  server.last.socket.close(1012, "restarting");
  await eventually(() => server.connections.length === 2 && subscribes(server.last).length === 1, "again");
  expect(subscribes(server.last)[0]).toMatchObject({ channel: CHANNEL, presence: true });
  await serverSends("subscribed", { channel: CHANNEL, seq: 0, recovered: true });
  await serverSends("presence:members", { channel: CHANNEL, user_ids: ["carol"] });
  expect(shown()).toBe("carol");

  await act(async () => root?.unmount());
  root = undefined;
  await eventually(
    () => (server.last.received as Record<string, unknown>[]).some((m) => m.type === "unsubscribe"),
    "unsubscribe on unmount",
  );
});

function Page() {
  const channel = useChannel(CHANNEL, { client, presence: true });
  const { members } = usePresence(CHANNEL, { subscription: channel.subscription });
  return <p data-members>{members.join(",")}</p>;
}

it("rides on a useChannel subscription made with presence: true", async () => {
  root = createRoot(container);
  await act(async () => root?.render(<Page />));
  await eventually(() => subscribes(server.last).length === 1, "subscribe sent");
  expect(subscribes(server.last)[0]).toMatchObject({ channel: CHANNEL, presence: true });
  await serverSends("subscribed", { channel: CHANNEL, seq: 0, recovered: true });
  await serverSends("presence:members", { channel: CHANNEL, user_ids: ["alice"] });
  await serverSends("presence:join", { channel: CHANNEL, user_id: "bob", action: "join" });
  expect(shown()).toBe("alice,bob");
  expect(subscribes(server.last)).toHaveLength(1); // one subscription for both hooks
});

it("a roster ignores repeated joins and leaves of unknown users", () => {
  const roster = new PresenceRoster(CHANNEL);
  const message = (event: string, data: unknown) => ({ event, data, timestamp: "" });
  expect(roster.apply(message("presence:join", { channel: CHANNEL, user_id: "a" }))).toBe(true);
  expect(roster.apply(message("presence:join", { channel: CHANNEL, user_id: "a" }))).toBe(false);
  expect(roster.apply(message("presence:leave", { channel: CHANNEL, user_id: "z" }))).toBe(false);
  expect(roster.apply(message("presence:members", { channel: CHANNEL, user_ids: ["a"] }))).toBe(false);
  expect(roster.list()).toEqual(["a"]);
});
