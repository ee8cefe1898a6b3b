// Generated from contracts/schemas by `npm run generate` (scripts/contract-types.mjs).
// Do not edit by hand: change the contracts, run `python -m contracts.export`, then regenerate.

/** Why the realtime service closed a WebSocket (the close frame's code). */
export enum CloseCode {
  /** normal close */
  NORMAL = 1000,
  /** server going away: reconnect with backoff */
  GOING_AWAY = 1001,
  /** an inbound frame was over MAX_INBOUND_FRAME_BYTES */
  MESSAGE_TOO_BIG = 1009,
  /** server restarting or events missed: reconnect and catch up */
  SERVICE_RESTART = 1012,
  /** missing authentication token */
  MISSING_TOKEN = 4001,
  /** invalid or expired token (also when it expires while connected) */
  INVALID_TOKEN = 4002,
  /** invalid token payload (no usable `sub`, or another user's) */
  INVALID_PAYLOAD = 4003,
  /** the page's origin is not allowed */
  FORBIDDEN_ORIGIN = 4004,
  /** its outbound buffer overflowed: reconnect and catch up */
  SLOW_CONSUMER = 4008,
  /** too many connections for the user */
  TOO_MANY_CONNECTIONS = 4029,
}

/** How loudly a notification should be delivered. `critical` overrides channel opt-outs. */
export type Priority = "low" | "normal" | "high" | "critical";

/** One notification, exactly as the seed protocol's `notification:new` carries it. */
export interface NotificationData {
  created_at: string;
  entity_id: string | null;
  entity_type: string | null;
  entity_url: string | null;
  id: string;
  is_read: boolean;
  message: string;
  priority: Priority;
  title: string;
  type: string;
}

/** A user's counters after a change; enough to draw the bell's badge. */
export interface NotificationStats {
  total: number;
  unread: number;
  unread_by_priority: Partial<Record<Priority, number>>;
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
  | "error"
  | "subscribed"
  | "unsubscribed"
  | "incident:updated"
  | "typing"
  | "presence:members"
  | "presence:join"
  | "presence:leave";

/**
 * Data of `connection:established`.
 *
 * `recovered` is true when every event after the client's `since` was replayed; false when
 * the gap was too large and the client should reload its list over REST. `seq` is the
 * user's latest sequence number known when the connection was set up.
 */
export interface ConnectionEstablished {
  message: string;
  recovered: boolean;
  seq: number;
  timestamp: string;
  user_id: string;
}

/**
 * Data of `subscribed`: the socket now receives the channel's events.
 *
 * `seq` is the channel's latest seq (0 for channels without durable events); `recovered`
 * says whether every event after `since` was replayed (false: reload the state over REST).
 */
export interface Subscribed {
  channel: string;
  recovered: boolean;
  seq: number;
}

/** Someone concerned by an incident. `id` is the Tocsin user id (the JWT `sub`). */
export interface Person {
  email: string | null;
  id: string;
  name: string | null;
}

export interface IncidentComment {
  /** The comment's first words. */
  excerpt: string;
  id: string;
}

export type IncidentEventType =
  | "incident.created"
  | "incident.assigned"
  | "incident.status_changed"
  | "incident.resolved"
  | "incident.comment_added";

/** What one incident event changed (the fields its type has). */
export interface IncidentChange {
  assignee: Person | null;
  comment: IncidentComment | null;
  event_id: string;
  new_status: string | null;
  occurred_at: string;
  previous_assignee: Person | null;
  previous_status: string | null;
  resolution: string | null;
  type: IncidentEventType;
}

/** Incident severity; `sev1` is the worst. */
export type Severity = "sev1" | "sev2" | "sev3" | "sev4";

/** An incident as the projection holds it after a change. */
export interface IncidentState {
  assignee: Person | null;
  id: string;
  key: string;
  resolution: string | null;
  severity: Severity;
  status: string;
  team_members: Person[];
  title: string;
  updated_at: string;
  url: string | null;
  watchers: Person[];
}

/**
 * `incident.updated` (data of the event on the events exchange, and of the socket event
 * `incident:updated`): the incident after the change, the change, who made it, and the
 * incident's gap-free `seq` (1 for its first event).
 */
export interface IncidentUpdate {
  actor: Person | null;
  change: IncidentChange;
  channel: string;
  incident: IncidentState;
  seq: number;
}

export type TypingState = "start" | "stop";

/** Data of `typing` (server → client): `user_id` is typing on `channel`, or stopped. */
export interface TypingNotice {
  channel: string;
  state: TypingState;
  user_id: string;
}

export type PresenceAction = "join" | "leave";

/**
 * A user appeared in a channel (on their first instance) or left it (on their last, after
 * the leave delay, or when their instance was found dead). Body of the `realtime.presence`
 * signal between instances, and data of the `presence:join` / `presence:leave` socket events
 * sent to the channel's subscribers that asked for presence (`"presence": true`).
 */
export interface PresenceChange {
  action: PresenceAction;
  channel: string;
  user_id: string;
}

/**
 * `GET /api/v1/channels/{channel}/presence` → the users in the channel; also the data of
 * the `presence:members` socket event a subscription with `"presence": true` gets first.
 */
export interface ChannelMembers {
  channel: string;
  user_ids: string[];
}
