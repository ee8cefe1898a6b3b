import { useEffect, useRef, useState } from "react";
import { ChannelSubscription, type ChannelState } from "../core/channels";
import type { NotificationClient } from "../core/client";
import { PresenceRoster } from "../core/presence";

export interface UsePresenceOptions {
  /**
   * A subscription of this channel made with `presence: true` (e.g. `useChannel(channel,
   * {client, presence: true}).subscription`): presence rides on it. Without one, the hook
   * subscribes `client`'s socket to the channel itself, with `presence: true`.
   */
  subscription?: ChannelSubscription | null;
  client?: NotificationClient | null;
  /** A channel token from the application's backend (namespaces other than `incident:`). */
  token?: string | (() => string | Promise<string>);
}

export interface UsePresenceResult {
  /** The users in the channel (every tab of theirs on any server counts), sorted. */
  members: string[];
  /** The state of the subscription the hook made (`idle` when it rides on yours). */
  state: ChannelState;
}

/**
 * Who is in `channel`, live: the list the server sends when the subscription opens (again
 * after every reconnect), then its joins and leaves. A user who reloads the page stays in
 * the list; one who leaves is removed a few seconds later, and within about 10 s when their
 * server dies.
 */
export function usePresence(channel: string, options: UsePresenceOptions): UsePresenceResult {
  const { subscription: given, client, token } = options;
  const [members, setMembers] = useState<string[]>([]);
  const [state, setState] = useState<ChannelState>("idle");
  // Read when subscribing (again after a reconnect), so a new token is used without the
  // subscription being made again.
  const latestToken = useRef(token);
  latestToken.current = token;

  useEffect(() => {
    const currentToken = () => {
      const source = latestToken.current;
      return typeof source === "function" ? source() : (source ?? "");
    };
    const own =
      given || !client
        ? null
        : new ChannelSubscription(client, channel, {
            presence: true,
            token: currentToken,
            onStateChange: (next) => setState(next),
          });
    const sub = given ?? own;
    if (!sub || sub.channel !== channel) return;
    const roster = new PresenceRoster(channel);
    const unlisten = sub.listenPresence((message) => {
      if (roster.apply(message)) setMembers(roster.list());
    });
    own?.start();
    return () => {
      unlisten();
      own?.stop();
      setMembers([]);
      setState("idle");
    };
  }, [channel, given, client]);

  return { members, state };
}
