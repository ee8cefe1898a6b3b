import { createContext, useContext, useMemo, type ReactNode } from "react";
import type { TokenSource } from "../core/client";

/** What every hook and bell below a `TocsinProvider` uses unless given its own. */
export interface TocsinConfig {
  /** REST API URL, e.g. `http://localhost:8000`; the socket is derived from its origin. */
  apiUrl?: string;
  /** Override of the socket URL (default: the API origin, `/api/v1/ws/notifications`). */
  wsUrl?: string;
  /** Returns the signed-in user's JWT (asked again on expiry); null/undefined when signed out. */
  getToken?: TokenSource;
  /** A fixed token instead of `getToken`. */
  token?: string | null;
}

const TocsinContext = createContext<TocsinConfig>({});

/**
 * Set once at the app root, so `useNotificationWebSocket({...})` and `<NotificationBell />`
 * work exactly as the feature description writes them, with no token or URL wiring:
 *
 *     <TocsinProvider apiUrl="http://localhost:8000" getToken={() => session.token}>
 *       <App />
 *     </TocsinProvider>
 */
export function TocsinProvider({
  apiUrl,
  wsUrl,
  getToken,
  token,
  children,
}: TocsinConfig & { children?: ReactNode }) {
  const value = useMemo(() => ({ apiUrl, wsUrl, getToken, token }), [apiUrl, wsUrl, getToken, token]);
  return <TocsinContext.Provider value={value}>{children}</TocsinContext.Provider>;
}

/** The nearest provider's configuration (`{}` without one). */
export function useTocsinConfig(): TocsinConfig {
  return useContext(TocsinContext);
}

export const NO_TOKEN_MESSAGE =
  "no token: pass token or getToken, or wrap the app in <TocsinProvider getToken={...}>";
