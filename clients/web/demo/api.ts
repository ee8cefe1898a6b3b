/** Calls to the demo server (services/demo): configuration, dev tokens, sending. */
import type { Priority } from "../src/core/types";
import type { IncidentState, IncidentUpdate } from "../src/core/types";
import { tokenExpiry } from "../src/core/token";

export interface DemoConfig {
  api_url: string;
  ws_url: string;
  users: string[];
  reconnect_interval_ms: number;
  reconnect_max_delay_ms: number;
  incident_id: string;
}

export interface Draft {
  title: string;
  message: string;
  priority: Priority;
  entity_url?: string;
}

async function post<T>(path: string, body: unknown): Promise<T> {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const data = (await response.json().catch(() => null)) as
    | (T & { error?: { message?: string } })
    | null;
  if (!response.ok) throw new Error(data?.error?.message ?? `HTTP ${response.status}`);
  return data as T;
}

export async function loadConfig(): Promise<DemoConfig> {
  const response = await fetch("demo/config");
  return (await response.json()) as DemoConfig;
}

/** A token source for one demo user: asks the demo server again shortly before expiry. */
export function tokenSource(user: string): () => Promise<string> {
  let token: string | undefined;
  return async () => {
    const exp = token ? tokenExpiry(token) : undefined;
    if (!token || (exp !== undefined && exp * 1000 - Date.now() < 60_000)) {
      token = (await post<{ token: string }>("demo/token", { user })).token;
    }
    return token;
  };
}

export function send(user: string, draft: Draft): Promise<{ created: number }> {
  return post("demo/send", { user, ...draft });
}

export function broadcast(draft: Draft): Promise<{ created: number }> {
  return post("demo/broadcast", draft);
}

/** The incident's state and timeline (`GET /api/v1/incidents/{id}`); null when it is not there. */
export async function loadIncident(
  apiUrl: string,
  incidentId: string,
  token: string,
): Promise<{ incident: IncidentState; seq: number; timeline: IncidentUpdate[] } | null> {
  const response = await fetch(`${apiUrl}/api/v1/incidents/${encodeURIComponent(incidentId)}`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  if (response.status === 404) return null;
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return (await response.json()) as { incident: IncidentState; seq: number; timeline: IncidentUpdate[] };
}

/** One change to the demo incident, published by the demo server as an incident event. */
export function actOnIncident(
  user: string,
  body: { change: string; status?: string; comment?: string },
): Promise<{ incident_id: string }> {
  return post("demo/incident", { user, ...body });
}
