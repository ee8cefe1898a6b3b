import { useCallback, useEffect, useRef, useState } from "react";
import { NotificationClient, type TokenSource } from "../core/client";
import { resolveEndpoints } from "../core/config";
import type {
  ClientError,
  ConnectionEstablished,
  ConnectionState,
  DisconnectInfo,
  NotificationData,
  NotificationStats,
  ServerMessage,
} from "../core/types";

export interface UseNotificationWebSocketOptions {
  onNotification?: (notification: NotificationData) => void;
  onStatsUpdate?: (stats: NotificationStats) => void;
  onConnect?: (info: ConnectionEstablished) => void;
  onDisconnect?: (info: DisconnectInfo) => void;
  onError?: (error: ClientError) => void;
  autoReconnect?: boolean;
  reconnectInterval?: number;
  maxReconnectAttempts?: number;
  /** Upper bound of one backoff delay, in ms (default 60000). */
  maxReconnectDelay?: number;
  /** Realtime service URL; defaults to NEXT_PUBLIC_WS_URL, then the API origin. */
  url?: string;
  /** The user's JWT, or `getToken` to fetch a fresh one (called again on 4002 and before expiry). */
  token?: string | null;
  getToken?: TokenSource;
  /** Every de-duplicated server message (read, unread, read_all, deleted, ...). */
  onEvent?: (message: ServerMessage) => void;
  /** The list and stats must be reloaded over REST (fresh start or an unrecoverable gap). */
  onResync?: () => void;
  /** Connect on mount (default true); otherwise call `connect()`. */
  autoConnect?: boolean;
}

export interface UseNotificationWebSocketResult {
  isConnected: boolean;
  connectionState: ConnectionState;
  connect: () => void;
  disconnect: () => void;
  lastMessage: ServerMessage | null;
  /** The underlying client (null before the first connection), for `useChannel`. */
  client: NotificationClient | null;
}

/**
 * One realtime connection for the component's lifetime. Safe under StrictMode: the socket is
 * opened asynchronously, so the mount → unmount → mount probe opens exactly one, and unmount
 * closes it and clears every timer. Callbacks may change on every render without reconnecting;
 * remount (e.g. `key={userId}`) to switch users.
 */
export function useNotificationWebSocket(
  options: UseNotificationWebSocketOptions = {},
): UseNotificationWebSocketResult {
  const latest = useRef(options);
  latest.current = options;
  const [connectionState, setConnectionState] = useState<ConnectionState>("disconnected");
  const [lastMessage, setLastMessage] = useState<ServerMessage | null>(null);
  const clientRef = useRef<NotificationClient | null>(null);
  const [client, setClient] = useState<NotificationClient | null>(null);
  const { url, autoReconnect, reconnectInterval, maxReconnectAttempts, maxReconnectDelay } =
    options;
  const hasCredentials = Boolean(options.token || options.getToken);
  const autoConnect = options.autoConnect ?? true;

  useEffect(() => {
    if (!hasCredentials) return;
    let mounted = true;
    const quiet: UseNotificationWebSocketOptions = {};
    const h = () => (mounted ? latest.current : quiet); // no callbacks after unmount
    const client = new NotificationClient({
      url: resolveEndpoints({ wsUrl: url }).wsUrl,
      getToken: () => (h().getToken ? h().getToken!() : h().token),
      autoReconnect,
      reconnectInterval,
      maxReconnectAttempts,
      maxReconnectDelay,
      onStateChange: (state) => mounted && setConnectionState(state),
      onMessage: (message) => {
        if (mounted) setLastMessage(message);
        h().onEvent?.(message);
      },
      onNotification: (n) => h().onNotification?.(n),
      onStatsUpdate: (s) => h().onStatsUpdate?.(s),
      onConnect: (info) => h().onConnect?.(info),
      onDisconnect: (info) => h().onDisconnect?.(info),
      onError: (error) => h().onError?.(error),
      onResync: () => h().onResync?.(),
    });
    clientRef.current = client;
    setClient(client);
    if (autoConnect) client.connect();
    return () => {
      mounted = false;
      client.disconnect();
      if (clientRef.current === client) clientRef.current = null;
      setClient((current) => (current === client ? null : current));
    };
  }, [
    url,
    autoReconnect,
    reconnectInterval,
    maxReconnectAttempts,
    maxReconnectDelay,
    hasCredentials,
    autoConnect,
  ]);

  const connect = useCallback(() => clientRef.current?.connect(), []);
  const disconnect = useCallback(() => clientRef.current?.disconnect(), []);

  return {
    isConnected: connectionState === "connected",
    connectionState,
    connect,
    disconnect,
    lastMessage,
    client,
  };
}
