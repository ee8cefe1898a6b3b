import { WS_PATH } from "./client";

/** Where the REST API and the realtime socket live. */
export interface Endpoints {
  apiUrl: string;
  wsUrl: string;
}

/**
 * Endpoints from the arguments first (component props, then a `TocsinProvider`'s), then
 * NEXT_PUBLIC_API_URL / NEXT_PUBLIC_WS_URL (inlined by Next.js at build time), then the page's
 * own origin. Without a WebSocket URL the socket is on the API's origin, as one gateway serves
 * both: `http://localhost:8000` gives `ws://localhost:8000/api/v1/ws/notifications`, `https:`
 * gives `wss:`.
 */
export function resolveEndpoints(props: Partial<Endpoints> = {}): Endpoints {
  let env: Partial<Endpoints> = {};
  try {
    env = { apiUrl: process.env.NEXT_PUBLIC_API_URL, wsUrl: process.env.NEXT_PUBLIC_WS_URL };
  } catch {
    // No `process` in a plain browser bundle.
  }
  const apiUrl = props.apiUrl ?? env.apiUrl ?? globalThis.location?.origin ?? "";
  const wsUrl = props.wsUrl ?? env.wsUrl ?? socketUrlFor(apiUrl);
  return { apiUrl, wsUrl };
}

/** The realtime endpoint on the API's origin, with `ws:` for `http:` and `wss:` for `https:`. */
export function socketUrlFor(apiUrl: string): string {
  const origin = new URL(apiUrl, globalThis.location?.href).origin;
  return origin.replace(/^http/, "ws") + WS_PATH;
}
