import { useCallback, useEffect, useMemo, useReducer, useRef } from "react";
import type { TokenSource } from "../core/client";
import { NotificationsApi } from "../core/rest";
import type { NotificationData, NotificationStats, ServerMessage } from "../core/types";

export interface Feed {
  items: NotificationData[];
  stats: NotificationStats;
  loaded: boolean;
  /** How many live changes were applied: a REST answer that raced one must not undo it. */
  changes: number;
}

type Action =
  | { kind: "loaded"; items: NotificationData[]; stats: NotificationStats; mark: number }
  | { kind: "added"; notification: NotificationData }
  | { kind: "marked"; ids: string[] | null; read: boolean }
  | { kind: "deleted"; id: string }
  | { kind: "stats"; stats: NotificationStats };

/** Sorted by `created_at`, newest first (stable: among equals the earlier stays first). */
function newestFirst(items: NotificationData[]): NotificationData[] {
  return items.sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at));
}

function reduce(limit: number) {
  return (state: Feed, action: Action): Feed => {
    if (action.kind === "loaded") {
      if (state.changes === action.mark) {
        return { ...state, items: action.items.slice(0, limit), stats: action.stats, loaded: true };
      }
      // Live events arrived while the request was in flight: they are newer than its answer.
      const known = new Set(state.items.map((n) => n.id));
      const merged = [...state.items, ...action.items.filter((n) => !known.has(n.id))];
      const items = newestFirst(merged).slice(0, limit);
      return { ...state, items, loaded: true };
    }
    const feed = { ...state, changes: state.changes + 1 };
    switch (action.kind) {
      case "added": {
        const rest = feed.items.filter((n) => n.id !== action.notification.id);
        return { ...feed, items: newestFirst([action.notification, ...rest]).slice(0, limit) };
      }
      case "marked": {
        const ids = action.ids && new Set(action.ids);
        const items = feed.items.map((n) =>
          !ids || ids.has(n.id) ? { ...n, is_read: action.read } : n,
        );
        return { ...feed, items };
      }
      case "deleted":
        return { ...feed, items: feed.items.filter((n) => n.id !== action.id) };
      case "stats":
        return { ...feed, stats: action.stats };
    }
  };
}

const EMPTY: Feed = { items: [], stats: { total: 0, unread: 0, unread_by_priority: {} }, loaded: false, changes: 0 };

/**
 * The recent notifications and counters of one user: loaded over REST, kept live by the
 * realtime events passed to `apply`, and changed by the user through `markRead` / `markAllRead`
 * (optimistically; the server's next `stats:updated` is authoritative).
 */
export function useNotificationFeed(apiUrl: string, getToken: TokenSource, limit = 10) {
  const reducer = useMemo(() => reduce(limit), [limit]);
  const [feed, dispatch] = useReducer(reducer, EMPTY);
  const api = useMemo(() => new NotificationsApi(apiUrl, getToken), [apiUrl, getToken]);

  const changes = useRef(0);
  changes.current = feed.changes;

  const reload = useCallback(async () => {
    const mark = changes.current;
    try {
      const [items, stats] = await Promise.all([api.list(limit), api.stats()]);
      dispatch({ kind: "loaded", items, stats, mark });
    } catch {
      // Offline or the API is down: the socket's events and the next resync fill in.
    }
  }, [api, limit]);

  useEffect(() => {
    void reload();
  }, [reload]);

  const apply = useCallback((message: ServerMessage) => {
    const data = message.data as { id?: string; ids?: string[] } & NotificationStats;
    switch (message.event) {
      case "notification:new":
        return dispatch({ kind: "added", notification: message.data as NotificationData });
      case "notification:read":
      case "notification:unread":
        return dispatch({
          kind: "marked",
          ids: [String(data.id)],
          read: message.event === "notification:read",
        });
      case "notification:read_all":
        return dispatch({ kind: "marked", ids: data.ids ?? null, read: true });
      case "notification:deleted":
        return dispatch({ kind: "deleted", id: String(data.id) });
      case "stats:updated":
        return dispatch({ kind: "stats", stats: data });
    }
  }, []);

  const markRead = useCallback(
    async (notification: NotificationData) => {
      if (notification.is_read) return;
      dispatch({ kind: "marked", ids: [notification.id], read: true });
      const { unread, unread_by_priority: byPriority } = feed.stats;
      const left = Math.max(0, (byPriority[notification.priority] ?? 0) - 1);
      dispatch({
        kind: "stats",
        stats: {
          ...feed.stats,
          unread: Math.max(0, unread - 1),
          unread_by_priority: { ...byPriority, [notification.priority]: left },
        },
      });
      await api.markRead(notification.id).catch(() => reload());
    },
    [api, feed.stats, reload],
  );

  const markAllRead = useCallback(async () => {
    dispatch({ kind: "marked", ids: null, read: true });
    const { total, unread_by_priority: byPriority } = feed.stats;
    const none = Object.fromEntries(Object.keys(byPriority).map((priority) => [priority, 0]));
    dispatch({ kind: "stats", stats: { total, unread: 0, unread_by_priority: none } });
    await api.markAllRead().catch(() => reload());
  }, [api, feed.stats, reload]);

  return { feed, reload, apply, markRead, markAllRead };
}
