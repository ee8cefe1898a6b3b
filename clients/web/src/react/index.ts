export { NotificationBell } from "./NotificationBell";
export type { NotificationBellProps } from "./NotificationBell";
export { useNotificationFeed } from "./useNotificationFeed";
export { useNotificationWebSocket } from "./useNotificationWebSocket";
export type {
  UseNotificationWebSocketOptions,
  UseNotificationWebSocketResult,
} from "./useNotificationWebSocket";
export { useChannel } from "./useChannel";
export type { UseChannelOptions, UseChannelResult } from "./useChannel";
export { useTyping } from "./useTyping";
export type { UseTypingResult } from "./useTyping";
