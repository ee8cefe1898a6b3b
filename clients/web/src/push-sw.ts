/// <reference lib="webworker" />
// The push service worker (built to dist/demo/tocsin-push-sw.js). It shows each push as a
// notification (a later push about the same entity replaces the earlier one: same `tag`), and
// a click opens the notification's `entity_url` and marks it read through the REST API.

const sw = self as unknown as ServiceWorkerGlobalScope;

interface PushPayload {
  id: string;
  type: string;
  priority: "low" | "normal" | "high" | "critical";
  title: string;
  body: string;
  entity_url: string | null;
  tag: string;
  created_at: string;
}

interface WorkerConfig {
  type: "tocsin-push-config";
  apiUrl: string;
  token: string | null;
}

const CACHE = "tocsin-push";
const CONFIG_KEY = "/tocsin-push-config";

async function saveConfig(config: WorkerConfig): Promise<void> {
  const cache = await caches.open(CACHE);
  await cache.put(CONFIG_KEY, new Response(JSON.stringify(config)));
}

async function loadConfig(): Promise<WorkerConfig | null> {
  const cache = await caches.open(CACHE);
  const stored = await cache.match(CONFIG_KEY);
  return stored ? ((await stored.json()) as WorkerConfig) : null;
}

function parse(event: PushEvent): PushPayload | null {
  try {
    const payload = event.data?.json() as PushPayload | undefined;
    return payload && typeof payload.title === "string" && typeof payload.id === "string"
      ? payload
      : null;
  } catch {
    return null;
  }
}

async function markRead(id: string): Promise<void> {
  const config = await loadConfig();
  if (!config) return;
  await fetch(
    `${config.apiUrl.replace(/\/$/, "")}/api/v1/notifications/${encodeURIComponent(id)}/read`,
    {
      method: "POST",
      headers: config.token ? { Authorization: `Bearer ${config.token}` } : {},
    },
  );
}

/** Only same-origin paths and http(s) links are opened. */
function target(url: string | null): string {
  if (!url) return sw.registration.scope;
  const resolved = new URL(url, sw.registration.scope);
  return resolved.protocol === "https:" || resolved.protocol === "http:"
    ? resolved.href
    : sw.registration.scope;
}

sw.addEventListener("install", () => {
  void sw.skipWaiting();
});

sw.addEventListener("activate", (event) => {
  event.waitUntil(sw.clients.claim());
});

sw.addEventListener("message", (event) => {
  const data = event.data as Partial<WorkerConfig> | null;
  if (data?.type === "tocsin-push-config" && typeof data.apiUrl === "string") {
    event.waitUntil(saveConfig(data as WorkerConfig));
  }
});

sw.addEventListener("push", (event) => {
  const payload = parse(event);
  if (!payload) return;
  event.waitUntil(
    sw.registration.showNotification(payload.title, {
      body: payload.body,
      tag: payload.tag,
      requireInteraction: payload.priority === "critical",
      data: { id: payload.id, entity_url: payload.entity_url },
    }),
  );
});

sw.addEventListener("notificationclick", (event) => {
  const data = event.notification.data as { id?: string; entity_url?: string | null } | null;
  event.notification.close();
  event.waitUntil(
    Promise.all([
      data?.id ? markRead(data.id).catch(() => undefined) : Promise.resolve(),
      sw.clients.openWindow(target(data?.entity_url ?? null)),
    ]),
  );
});
