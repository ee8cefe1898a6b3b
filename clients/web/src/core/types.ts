/** The messages of the realtime protocol (DESIGN.md §5), as the browser sees them. */

export type Priority = "low" | "normal" | "high" | "critical";

/** One notification, exactly the seed protocol's `notification:new` payload. */
export interface NotificationData {
  id: string;
  type: string;
  priority: Priority;
  title: string;
  message: string;
  entity_type?: string | null;
  entity_id?: string | null;
  entity_url?: string | null;
  is_read: boolean;
  created_at: string;
}

/** A user's counters after a change: enough to draw the badge. */
export interface NotificationStats {
  total: number;
  unread: number;
  unread_by_priority?: Partial<Record<Priority, number>>;
}

export interface ConnectionEstablished {
  user_id: string;
  timestamp: string;
  message: string;
  recovered?: boolean;
  seq?: number;
}

export type ServerEventName =
  | "connection:established"
  | "notification:new"
  | "notification:read"
  | "notification:unread"
  | "notification:read_all"
  | "notification:deleted"
  | "stats:updated"
  | "pong"
  | "error";

/** `{"event", "data", "timestamp", "seq"}` as sent by the realtime service. */
export interface ServerMessage<D = unknown> {
  event: ServerEventName | string;
  data: D;
  timestamp: string;
  seq?: number | null;
}

export type ConnectionState = "connecting" | "connected" | "disconnected" | "error";

/** Why the client stopped or could not connect. `code` is stable; `closeCode` when a close caused it. */
export interface ClientError {
  code: "auth" | "reconnect_exhausted" | "server_error" | "socket_error" | "token_unavailable";
  message: string;
  closeCode?: number;
}

export interface DisconnectInfo {
  code: number;
  reason: string;
  willReconnect: boolean;
}
