export { NotificationBell } from "./NotificationBell";
export type { NotificationBellProps } from "./NotificationBell";
export { PushOffer } from "./PushOffer";
export type { PushOfferProps } from "./PushOffer";
export { useNotificationFeed } from "./useNotificationFeed";
export { useNotificationWebSocket } from "./useNotificationWebSocket";
export type {
  UseNotificationWebSocketOptions,
  UseNotificationWebSocketResult,
} from "./useNotificationWebSocket";
export { NO_TOKEN_MESSAGE, TocsinProvider, useTocsinConfig } from "./TocsinProvider";
export type { TocsinConfig } from "./TocsinProvider";
export { useChannel } from "./useChannel";
export type { UseChannelOptions, UseChannelResult } from "./useChannel";
export { useTyping } from "./useTyping";
export type { UseTypingResult } from "./useTyping";
export { usePresence } from "./usePresence";
export type { UsePresenceOptions, UsePresenceResult } from "./usePresence";
