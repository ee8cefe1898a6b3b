import { useEffect, useRef, useState } from "react";
import {
  ChannelSubscription,
  type ChannelError,
  type ChannelOptions,
  type ChannelState,
} from "../core/channels";
import type { IncidentUpdate } from "../core/types";
import type { NotificationClient } from "../core/client";

export interface UseChannelOptions extends Omit<ChannelOptions, "onStateChange"> {
  /** The socket to subscribe on (e.g. `useNotificationWebSocket().client`). */
  client: NotificationClient | null | undefined;
}

export interface UseChannelResult {
  state: ChannelState;
  error?: ChannelError;
  lastUpdate: IncidentUpdate | null;
  /** The live subscription (null until the client exists); `useTyping` takes it. */
  subscription: ChannelSubscription | null;
}

/**
 * Subscribes `client`'s socket to `channel` for the component's lifetime, and again after
 * every reconnect with `since` = the last channel seq seen (missed updates are replayed, none
 * twice). Callbacks may change on every render; a new `channel` or client resubscribes.
 */
export function useChannel(channel: string, options: UseChannelOptions): UseChannelResult {
  const latest = useRef(options);
  latest.current = options;
  const { client } = options;
  const [state, setState] = useState<ChannelState>("idle");
  const [error, setError] = useState<ChannelError | undefined>(undefined);
  const [lastUpdate, setLastUpdate] = useState<IncidentUpdate | null>(null);
  const [subscription, setSubscription] = useState<ChannelSubscription | null>(null);

  useEffect(() => {
    if (!client) return;
    let mounted = true;
    const sub = new ChannelSubscription(client, channel, {
      since: latest.current.since,
      token: () => {
        const token = latest.current.token;
        return (typeof token === "function" ? token() : token) ?? "";
      },
      onUpdate: (update) => {
        if (mounted) setLastUpdate(update);
        latest.current.onUpdate?.(update);
      },
      onTyping: (notice) => latest.current.onTyping?.(notice),
      presence: latest.current.presence,
      onResync: () => latest.current.onResync?.(),
      onStateChange: (next, why) => {
        if (!mounted) return;
        setState(next);
        setError(why);
      },
    });
    setSubscription(sub);
    sub.start();
    return () => {
      mounted = false;
      sub.stop();
      setSubscription(null);
    };
  }, [client, channel]);

  return { state, error, lastUpdate, subscription };
}
