export { BACKOFF_JITTER, backoffDelay } from "./backoff";
export { NotificationClient, WS_PATH } from "./client";
export type { ClientHandlers, ClientOptions, TokenSource } from "./client";
export { resolveEndpoints, socketUrlFor } from "./config";
export type { Endpoints } from "./config";
export { ApiError, NotificationsApi } from "./rest";
export { tokenExpiry } from "./token";
export type * from "./types";
export {
  ChannelSubscription,
  TYPING_EXPIRY_MS,
  TYPING_RENEW_MS,
  TypingSender,
  TypingTracker,
} from "./channels";
export type { ChannelError, ChannelOptions, ChannelState } from "./channels";
export { PRESENCE_EVENTS, PresenceRoster } from "./presence";
