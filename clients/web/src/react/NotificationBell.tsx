import { useCallback, useEffect, useId, useRef, useState, type KeyboardEvent } from "react";
import type { TokenSource } from "../core/client";
import { resolveEndpoints } from "../core/config";
import { safeLink } from "../core/links";
import type { ClientError, ConnectionState, NotificationData } from "../core/types";
import { PushOffer } from "./PushOffer";
import { injectStyles } from "./styles";
import { useTocsinConfig } from "./TocsinProvider";
import { Toasts, useToasts } from "./Toasts";
import { useNotificationFeed } from "./useNotificationFeed";
import { useNotificationWebSocket } from "./useNotificationWebSocket";

export interface NotificationBellProps {
  /** REST API URL; defaults to the TocsinProvider's, then NEXT_PUBLIC_API_URL, then the page's origin. */
  apiUrl?: string;
  /** Realtime socket URL; defaults to the TocsinProvider's, then NEXT_PUBLIC_WS_URL, then the API origin. */
  wsUrl?: string;
  token?: string | null;
  /** Returns a valid token; preferred over `token` because it is asked again on expiry. */
  getToken?: TokenSource;
  /** The full notifications page (default "/notifications"). */
  notificationsPageUrl?: string;
  /** How many recent notifications the dropdown shows (default 10). */
  limit?: number;
  theme?: "light" | "dark" | "auto";
  /** How long a toast stays, in ms (default 6000). */
  toastDuration?: number;
  reconnectInterval?: number;
  maxReconnectAttempts?: number;
  maxReconnectDelay?: number;
  /**
   * Follows a notification's `entity_url` (only a relative path or an http(s) URL on the page's
   * host: see `safeLink`); defaults to a page navigation.
   */
  onNavigate?: (url: string, notification: NotificationData) => void;
  /** Observes the connection state (e.g. to show it elsewhere on the page). */
  onConnectionStateChange?: (state: ConnectionState) => void;
  /** Why live updates are unavailable (no token, refused token, socket errors). */
  onError?: (error: ClientError) => void;
  /**
   * Offer "Notify me when I'm away" (browser push through the push service on the API's
   * origin) where the browser supports it; default true. False hides it.
   */
  offerPush?: boolean;
}

const STATE_LABEL: Record<ConnectionState, string> = {
  connected: "Live updates connected",
  connecting: "Connecting to live updates…",
  disconnected: "Live updates disconnected; reconnecting",
  error: "Live updates unavailable",
};

function ago(iso: string): string {
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (!Number.isFinite(s)) return "";
  if (s < 60) return "just now";
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return new Date(iso).toLocaleDateString();
}

function BellIcon() {
  return (
    <svg viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth="2" aria-hidden="true">
      <path d="M6 8a6 6 0 0 1 12 0c0 7 3 9 3 9H3s3-2 3-9" strokeLinejoin="round" />
      <path d="M10.3 21a1.94 1.94 0 0 0 3.4 0" strokeLinecap="round" />
    </svg>
  );
}

/**
 * A bell with the unread count, a dropdown of recent notifications kept live over the
 * realtime socket, a connection indicator and a toast per new notification.
 */
export function NotificationBell(props: NotificationBellProps) {
  const config = useTocsinConfig();
  const { apiUrl, wsUrl } = resolveEndpoints({
    apiUrl: props.apiUrl ?? config.apiUrl,
    wsUrl: props.wsUrl ?? config.wsUrl,
  });
  const own = props.token !== undefined || props.getToken !== undefined;
  const credentials = own ? props : config;
  const latest = useRef(props);
  latest.current = props;
  const tokens = useRef(credentials);
  tokens.current = credentials;
  const getToken = useCallback<TokenSource>(
    () => (tokens.current.getToken ? tokens.current.getToken() : tokens.current.token),
    [],
  );
  const hasCredentials = Boolean(credentials.getToken || credentials.token);
  const { feed, reload, apply, markRead, markAllRead } = useNotificationFeed(apiUrl, getToken, props.limit);
  const items = useRef(feed.items);
  items.current = feed.items;
  const toasts = useToasts(props.toastDuration ?? 6000);
  const [open, setOpen] = useState(false);
  const root = useRef<HTMLDivElement>(null);
  const button = useRef<HTMLButtonElement>(null);
  const panelId = useId();

  const { connectionState } = useNotificationWebSocket({
    url: wsUrl,
    getToken: hasCredentials ? getToken : undefined,
    token: hasCredentials ? undefined : null,
    onError: (error) => props.onError?.(error),
    reconnectInterval: props.reconnectInterval,
    maxReconnectAttempts: props.maxReconnectAttempts,
    maxReconnectDelay: props.maxReconnectDelay,
    onEvent: apply,
    onNotification: (n) => {
      // A replay after a reconnect can carry history: toast only what is new to this bell.
      const known = items.current;
      if (known.some((k) => k.id === n.id)) return;
      if (known.length && Date.parse(n.created_at) < Date.parse(known[0].created_at)) return;
      toasts.push(n);
    },
    onResync: reload,
  });

  useEffect(injectStyles, []);
  useEffect(() => latest.current.onConnectionStateChange?.(connectionState), [connectionState]);

  useEffect(() => {
    if (!open) return;
    const outside = (event: MouseEvent) => {
      if (!root.current?.contains(event.target as Node)) setOpen(false);
    };
    document.addEventListener("mousedown", outside);
    return () => document.removeEventListener("mousedown", outside);
  }, [open]);

  const follow = (n: NotificationData) => {
    void markRead(n);
    const url = safeLink(n.entity_url);
    if (!url) return;
    setOpen(false);
    if (props.onNavigate) props.onNavigate(url, n);
    else window.location.assign(url);
  };

  const onKeyDown = (event: KeyboardEvent) => {
    if (event.key === "Escape" && open) {
      setOpen(false);
      button.current?.focus();
      return;
    }
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
    const items = [...(root.current?.querySelectorAll<HTMLElement>(".tocsin-item") ?? [])];
    if (!items.length) return;
    event.preventDefault();
    const at = items.indexOf(document.activeElement as HTMLElement);
    const next = event.key === "ArrowDown" ? at + 1 : at <= 0 ? items.length - 1 : at - 1;
    items[next % items.length].focus();
  };

  const unread = feed.stats.unread;
  const countText = unread > 99 ? "99+" : String(unread);
  const label = `Notifications, ${unread === 0 ? "no" : unread} unread. ${STATE_LABEL[connectionState]}.`;

  return (
    <div className="tocsin" data-theme={props.theme ?? "auto"} ref={root} onKeyDown={onKeyDown}>
      <button
        ref={button}
        type="button"
        className="tocsin-bell"
        aria-label={label}
        aria-haspopup="true"
        aria-expanded={open}
        aria-controls={panelId}
        title={STATE_LABEL[connectionState]}
        onClick={() => {
          if (!open) toasts.clear(); // the list shows them now
          setOpen(!open);
        }}
      >
        <BellIcon />
        {unread > 0 && (
          <span className="tocsin-badge" data-testid="tocsin-badge" aria-hidden="true">
            {countText}
          </span>
        )}
        <span className="tocsin-dot" data-state={connectionState} data-testid="tocsin-connection" />
      </button>
      {open && (
        <div className="tocsin-panel" id={panelId} role="region" aria-label="Recent notifications">
          <div className="tocsin-head">
            <h2>Notifications</h2>
            <button
              type="button"
              className="tocsin-link"
              disabled={unread === 0}
              onClick={() => void markAllRead()}
            >
              Mark all as read
            </button>
          </div>
          {feed.items.length === 0 ? (
            <p className="tocsin-empty">{feed.loaded ? "You're all caught up." : "Loading…"}</p>
          ) : (
            <ul className="tocsin-list">
              {feed.items.map((n) => (
                <li key={n.id}>
                  <button
                    type="button"
                    className="tocsin-item"
                    data-unread={!n.is_read}
                    data-notification-id={n.id}
                    onClick={() => follow(n)}
                  >
                    <span className="tocsin-mark" aria-hidden="true" />
                    <span className="tocsin-text">
                      <span className="tocsin-title">
                        {n.is_read ? "" : <span className="tocsin-sr">Unread: </span>}
                        {n.title}
                      </span>
                      {n.message && <span className="tocsin-msg">{n.message}</span>}
                      <span className="tocsin-meta">
                        {n.priority} · {ago(n.created_at)}
                      </span>
                    </span>
                  </button>
                </li>
              ))}
            </ul>
          )}
          <div className="tocsin-foot">
            <a
              className="tocsin-link"
              href={props.notificationsPageUrl ?? "/notifications"}
              onClick={() => setOpen(false)}
            >
              View all notifications
            </a>
            <div className="tocsin-status">{STATE_LABEL[connectionState]}</div>
          </div>
          {props.offerPush !== false && hasCredentials && (
            <PushOffer pushUrl={apiUrl} apiUrl={apiUrl} getToken={getToken} />
          )}
        </div>
      )}
      <Toasts queue={toasts} />
    </div>
  );
}
