import type { TokenSource } from "./core/client";

/** Where the push service serves devices (the gateway routes this prefix to it). */
export const PUSH_PREFIX = "/api/v1/push";
/** The service worker built from src/push-sw.ts, served beside the page. */
export const PUSH_WORKER_URL = "/tocsin-push-sw.js";

export interface PushOptions {
  /** Base URL of the push service (or of the gateway in front of it). */
  pushUrl: string;
  /** Base URL of the notification API, for the worker to mark a clicked notification read. */
  apiUrl: string;
  getToken: TokenSource;
  /** Defaults to PUSH_WORKER_URL. */
  workerUrl?: string;
}

/** Why push could not be turned on: `unsupported`, `denied`, or the API's error code. */
export class PushError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** What the worker needs to mark a notification read when it is clicked. */
export interface WorkerConfig {
  type: "tocsin-push-config";
  apiUrl: string;
  token: string | null;
}

export function pushSupported(): boolean {
  return (
    typeof navigator !== "undefined" &&
    "serviceWorker" in navigator &&
    typeof window !== "undefined" &&
    "PushManager" in window &&
    "Notification" in window
  );
}

/** The VAPID public key (base64url) as the bytes `applicationServerKey` takes. */
export function applicationServerKey(base64url: string): Uint8Array {
  const base64 = (base64url + "=".repeat((4 - (base64url.length % 4)) % 4))
    .replace(/-/g, "+")
    .replace(/_/g, "/");
  const raw = atob(base64);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

async function call(
  options: PushOptions,
  path: string,
  init: RequestInit = {},
): Promise<unknown> {
  const token = await options.getToken();
  const response = await fetch(options.pushUrl.replace(/\/$/, "") + PUSH_PREFIX + path, {
    ...init,
    headers: {
      ...(init.body ? { "Content-Type": "application/json" } : {}),
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
    },
  });
  const text = await response.text();
  const body: unknown = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const error = (body as { error?: { code?: string; message?: string } } | null)?.error;
    throw new PushError(error?.code ?? "http_error", error?.message ?? text);
  }
  return body;
}

/** Hand the worker the API URL and a fresh token (call again when the token is renewed). */
export async function configurePushWorker(
  registration: ServiceWorkerRegistration,
  options: Pick<PushOptions, "apiUrl" | "getToken">,
): Promise<void> {
  const worker = registration.active ?? (await navigator.serviceWorker.ready).active;
  const config: WorkerConfig = {
    type: "tocsin-push-config",
    apiUrl: options.apiUrl,
    token: (await options.getToken()) ?? null,
  };
  worker?.postMessage(config);
}

/**
 * Turn on "notify me when I'm away" in this browser: ask for permission, register the
 * service worker, subscribe with the server's VAPID key and register the subscription.
 * Resolves to the device id; rejects with PushError (`unsupported`, `denied`, or the API's
 * code, e.g. `too_many_devices`, `web_push_disabled`).
 */
export async function enablePush(options: PushOptions): Promise<string> {
  if (!pushSupported()) throw new PushError("unsupported", "this browser has no Web Push");
  const permission = await Notification.requestPermission();
  if (permission !== "granted") throw new PushError("denied", "notifications are not allowed");
  await navigator.serviceWorker.register(options.workerUrl ?? PUSH_WORKER_URL);
  const registration = await navigator.serviceWorker.ready;
  const { public_key } = (await call(options, "/vapid-public-key")) as { public_key: string };
  const subscription =
    (await registration.pushManager.getSubscription()) ??
    (await registration.pushManager.subscribe({
      userVisibleOnly: true,
      applicationServerKey: applicationServerKey(public_key) as BufferSource,
    }));
  const device = (await call(options, "/subscriptions", {
    method: "POST",
    body: JSON.stringify(subscription.toJSON()),
  })) as { id: string };
  await configurePushWorker(registration, options);
  return device.id;
}

/** Turn it off: forget the subscription on the server and in the browser. */
export async function disablePush(options: Pick<PushOptions, "pushUrl" | "getToken">): Promise<void> {
  if (!pushSupported()) return;
  const registration = await navigator.serviceWorker.getRegistration();
  const subscription = await registration?.pushManager.getSubscription();
  if (!subscription) return;
  const endpoint = encodeURIComponent(subscription.endpoint);
  await call({ ...options, apiUrl: "" }, `/subscriptions?endpoint=${endpoint}`, {
    method: "DELETE",
  });
  await subscription.unsubscribe();
}
