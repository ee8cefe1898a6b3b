/**
 * The messages of the realtime protocol (DESIGN.md §5), as the browser sees them: generated
 * from the contracts' JSON Schemas into contract-types.ts, plus the client's own types.
 */
import type { ServerEventName } from "./contract-types";

export type {
  ChannelMembers,
  ConnectionEstablished,
  IncidentChange,
  IncidentState,
  IncidentUpdate,
  NotificationData,
  NotificationStats,
  Person,
  PresenceChange,
  Priority,
  ServerEventName,
  Subscribed,
  TypingNotice,
} from "./contract-types";

/**
 * `{"event", "data", "timestamp", "seq"}` as sent by the realtime service (the schema
 * `ws-server-message`), typed by its data. `event` stays open to names a newer server adds;
 * `seq` is absent on messages that are not numbered, such as `pong` and `error`.
 */
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
