import type { TokenSource } from "./client";
import type { NotificationData, NotificationStats } from "./types";

export const API_PREFIX = "/api/v1/notifications";

/** A REST call that did not succeed; `code` is the API's stable error code when it sent one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The user-facing REST calls the bell needs (DESIGN.md §6). */
export class NotificationsApi {
  constructor(
    private readonly baseUrl: string,
    private readonly getToken: TokenSource,
  ) {}

  async list(limit = 10): Promise<NotificationData[]> {
    const body = await this.call<unknown>(`?limit=${limit}`);
    if (Array.isArray(body)) return body as NotificationData[];
    const page = body as Record<string, unknown>;
    const items = page.items ?? page.notifications ?? page.data;
    return Array.isArray(items) ? (items as NotificationData[]) : [];
  }

  stats(): Promise<NotificationStats> {
    return this.call("/stats");
  }

  markRead(id: string): Promise<unknown> {
    return this.call(`/${encodeURIComponent(id)}/read`, "POST");
  }

  markAllRead(): Promise<unknown> {
    return this.call("/read-all", "POST");
  }

  private async call<T>(path: string, method = "GET"): Promise<T> {
    const token = await this.getToken();
    const response = await fetch(this.baseUrl.replace(/\/$/, "") + API_PREFIX + path, {
      method,
      headers: token ? { Authorization: `Bearer ${token}` } : {},
    });
    const text = await response.text();
    const body: unknown = text ? JSON.parse(text) : null;
    if (!response.ok) {
      const error = (body as { error?: { code?: string; message?: string } } | null)?.error;
      throw new ApiError(response.status, error?.code ?? "http_error", error?.message ?? text);
    }
    return body as T;
  }
}
