/** Where the REST API and the realtime socket live. */
export interface Endpoints {
  apiUrl: string;
  wsUrl: string;
}

/**
 * Endpoints from props first, then NEXT_PUBLIC_API_URL / NEXT_PUBLIC_WS_URL (inlined by
 * Next.js at build time), then the page's own origin. Without a WebSocket URL the API URL's
 * origin is used with a ws(s) scheme.
 */
export function resolveEndpoints(props: Partial<Endpoints> = {}): Endpoints {
  let env: Partial<Endpoints> = {};
  try {
    env = { apiUrl: process.env.NEXT_PUBLIC_API_URL, wsUrl: process.env.NEXT_PUBLIC_WS_URL };
  } catch {
    // No `process` in a plain browser bundle.
  }
  const apiUrl = props.apiUrl ?? env.apiUrl ?? globalThis.location?.origin ?? "";
  const wsUrl =
    props.wsUrl ?? env.wsUrl ?? new URL(apiUrl, globalThis.location?.href).origin.replace(/^http/, "ws");
  return { apiUrl, wsUrl };
}
