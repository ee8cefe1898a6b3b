import type { TokenSource } from "./client";
import type { NotificationData, NotificationStats } from "./types";

export const API_PREFIX = "/api/v1/notifications";

/** `GET /api/v1/notifications` (the service's `NotificationPage` in its OpenAPI). */
interface NotificationPage {
  items: NotificationData[];
  /** Pass as `cursor` for the next page; null at the end. */
  next_cursor: string | null;
}

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

  /** The newest `limit` notifications (the first page of `GET /notifications`). */
  async list(limit = 10): Promise<NotificationData[]> {
    const page = await this.call<NotificationPage>(`?limit=${limit}`);
    return page.items;
  }

  stats(): Promise<NotificationStats> {
    return this.call("/stats");
  }

  /** Marks one notification read; resolves to it as stored now. */
  markRead(id: string): Promise<NotificationData> {
    return this.call(`/${encodeURIComponent(id)}/read`, "POST");
  }

  /** Marks every notification read; resolves to the counters after it. */
  markAllRead(): Promise<NotificationStats> {
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
