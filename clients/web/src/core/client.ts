import { backoffDelay } from "./backoff";
import { CloseCode } from "./contract-types";
import { tokenExpiry } from "./token";
import type {
  ClientError,
  ConnectionEstablished,
  ConnectionState,
  DisconnectInfo,
  NotificationData,
  NotificationStats,
  ServerMessage,
} from "./types";

export const WS_PATH = "/api/v1/ws/notifications";

/** Close codes after which reconnecting with the same credentials cannot help. */
const AUTH_CLOSES: readonly number[] = [
  CloseCode.MISSING_TOKEN,
  CloseCode.INVALID_PAYLOAD,
  CloseCode.FORBIDDEN_ORIGIN,
];
const OPEN = 1;

export type TokenSource = () => string | null | undefined | Promise<string | null | undefined>;

type Timer = ReturnType<typeof setTimeout>;

export interface ClientHandlers {
  onStateChange?(state: ConnectionState): void;
  /** Every message that passed de-duplication, in order. */
  onMessage?(message: ServerMessage): void;
  onNotification?(notification: NotificationData): void;
  onStatsUpdate?(stats: NotificationStats): void;
  onConnect?(info: ConnectionEstablished): void;
  onDisconnect?(info: DisconnectInfo): void;
  onError?(error: ClientError): void;
  /** The server could not replay what was missed (or this is a fresh start): reload over REST. */
  onResync?(): void;
}

export interface ClientOptions extends ClientHandlers {
  /** `ws(s)://host[:port]`, or the full socket URL; the protocol path is added when missing. */
  url: string;
  /** Returns the current token; called again for a fresh one on 4002 and before `exp`. */
  getToken: TokenSource;
  autoReconnect?: boolean;
  /** Delay before the first reconnect, in ms (default 5000, ±20 %); later ones double (see backoffDelay). */
  reconnectInterval?: number;
  maxReconnectAttempts?: number;
  /** Upper bound of one backoff delay (default 60000 ms). */
  maxReconnectDelay?: number;
  pingInterval?: number;
  /** A ping not answered within this many ms means the connection is dead (default 10000). */
  pongTimeout?: number;
  /** No `connection:established` within this many ms abandons the attempt (default 10000). */
  connectTimeout?: number;
  /** Refresh the token in-band this many ms before it expires (default 60000). */
  refreshBeforeExpiry?: number;
  /** A page hidden at least this long reconnects or re-checks at once when shown (default 60000). */
  longHidden?: number;
  /** Resume after this seq on the first connection. */
  since?: number;
  WebSocket?: new (url: string) => WebSocket;
  random?: () => number;
}

/**
 * One live connection to the realtime service, kept alive across network trouble.
 *
 * States: `connecting` → `connected` on `connection:established`; `disconnected` while waiting
 * to reconnect or after `disconnect()`; `error` after an authentication refusal (4001/4003/4004),
 * when `maxReconnectAttempts` ran out, or while `getToken` has no token (it is asked again after
 * the backoff). Events whose `seq` was already seen are dropped, and
 * reconnections resume with `since=<last seq>`.
 */
export class NotificationClient {
  state: ConnectionState = "disconnected";
  lastMessage: ServerMessage | null = null;
  lastSeq: number;
  private statsSeq = 0;
  private haveSeq: boolean;
  private resuming = false;
  private ws?: WebSocket;
  private token?: string | null;
  private attempts = 0;
  private stopped = true;
  private generation = 0;
  private hiddenAt?: number;
  private listeners = new Set<ClientHandlers>();
  private timers: Record<"retry" | "ping" | "pong" | "refresh" | "open", Timer | undefined> = {
    open: undefined,
    retry: undefined,
    ping: undefined,
    pong: undefined,
    refresh: undefined,
  };

  constructor(readonly options: ClientOptions) {
    this.lastSeq = options.since ?? 0;
    this.haveSeq = options.since !== undefined;
  }

  /**
   * Adds handlers beside the options' own (channels use it: `onConnect` to subscribe again,
   * `onMessage` for their events); returns the function that removes them.
   */
  addListener(handlers: ClientHandlers): () => void {
    this.listeners.add(handlers);
    return () => {
      this.listeners.delete(handlers);
    };
  }

  /** Opens the connection unless one is open or opening. */
  connect(): void {
    if (!this.stopped && (this.state === "connecting" || this.state === "connected")) return;
    this.stopped = false;
    this.attempts = 0;
    this.listen(true);
    void this.open(false);
  }

  /** Closes the connection for good (until `connect()`), with code 1000; `onDisconnect` follows. */
  disconnect(): void {
    this.stopped = true;
    this.generation++;
    this.listen(false);
    for (const name of Object.keys(this.timers) as (keyof typeof this.timers)[]) this.clear(name);
    const ws = this.ws;
    this.ws = undefined;
    if (ws && ws.readyState <= OPEN) ws.close(CloseCode.NORMAL);
    const wasConnected = this.state === "connected";
    this.setState("disconnected");
    if (wasConnected) this.options.onDisconnect?.({ code: CloseCode.NORMAL, reason: "", willReconnect: false });
  }

  private async open(freshToken: boolean): Promise<void> {
    const generation = ++this.generation;
    this.clear("retry");
    this.setState("connecting");
    let token = this.token;
    const exp = token ? tokenExpiry(token) : undefined;
    if (!token || freshToken || (exp !== undefined && exp * 1000 <= Date.now() + 1000)) {
      try {
        token = await this.options.getToken();
      } catch {
        token = undefined;
      }
      if (generation !== this.generation || this.stopped) return;
      if (!token) {
        // Signed out, or the token source failed: say so, and ask again after the backoff.
        this.retry(false);
        this.setState("error");
        this.emitError({ code: "token_unavailable", message: "getToken returned no token to connect with" });
        return;
      }
      this.token = token;
    } else {
      // Stay asynchronous either way, so connect()+disconnect() in one tick opens nothing.
      await Promise.resolve();
      if (generation !== this.generation || this.stopped) return;
    }
    const url = new URL(this.options.url, globalThis.location?.href);
    if (!url.pathname.endsWith(WS_PATH)) url.pathname = url.pathname.replace(/\/$/, "") + WS_PATH;
    url.searchParams.set("token", token);
    this.resuming = this.haveSeq;
    if (this.haveSeq) url.searchParams.set("since", String(this.lastSeq));
    const o = this.options;
    const Socket = o.WebSocket ?? WebSocket;
    const ws = new Socket(url.toString());
    this.ws = ws;
    let established = false;
    ws.onmessage = (event) => {
      if (generation !== this.generation) return;
      if (this.receive(String(event.data))) established = true;
    };
    this.timers.open = setTimeout(() => this.abandon("handshake timeout"), o.connectTimeout ?? 10000);
    ws.onerror = () => {
      // A close event always follows and decides about reconnecting; this only reports.
      if (generation === this.generation) {
        this.emitError({ code: "socket_error", message: "the WebSocket connection failed or broke" });
      }
    };
    ws.onclose = (event) => {
      if (generation === this.generation) this.closed(event.code, event.reason, established);
    };
  }

  /** Handles one frame; returns true when it was `connection:established`. */
  private receive(raw: string): boolean {
    let message: ServerMessage;
    try {
      message = JSON.parse(raw) as ServerMessage;
    } catch {
      return false;
    }
    if (!message || typeof message.event !== "string") return false;
    this.clear("pong");
    const seq = typeof message.seq === "number" ? message.seq : undefined;
    const o = this.options;
    if (message.event === "pong") return false;
    if (message.event === "connection:established") {
      this.established(message as ServerMessage<ConnectionEstablished>);
      return true;
    }
    if (message.event === "stats:updated") {
      if (seq !== undefined) {
        if (seq <= this.statsSeq) return false;
        this.statsSeq = seq;
      }
    } else if (seq !== undefined) {
      if (seq <= this.lastSeq && this.haveSeq) return false;
      this.lastSeq = seq;
      this.haveSeq = true;
    }
    this.lastMessage = message;
    o.onMessage?.(message);
    for (const listener of [...this.listeners]) listener.onMessage?.(message);
    if (message.event === "notification:new") o.onNotification?.(message.data as NotificationData);
    else if (message.event === "stats:updated") o.onStatsUpdate?.(message.data as NotificationStats);
    else if (message.event === "error") {
      const data = message.data as { message?: string } | null;
      this.emitError({ code: "server_error", message: data?.message ?? "server error" });
    }
    return false;
  }

  private established(message: ServerMessage<ConnectionEstablished>): void {
    const info = message.data;
    const resync = !this.resuming || info.recovered === false;
    if (resync && typeof info.seq === "number") {
      // Up to date as of the server's latest seq: the REST reload covers everything before it.
      this.lastSeq = info.seq;
      this.statsSeq = Math.max(this.statsSeq, info.seq);
      this.haveSeq = true;
    }
    this.attempts = 0;
    this.clear("open");
    this.lastMessage = message;
    this.setState("connected");
    this.startPing();
    this.scheduleRefresh();
    this.options.onMessage?.(message);
    this.options.onConnect?.(info);
    for (const listener of [...this.listeners]) listener.onConnect?.(info);
    if (resync) this.options.onResync?.();
  }

  private closed(code: number, reason: string, wasConnected: boolean): void {
    this.ws = undefined;
    this.clear("open");
    this.clear("ping");
    this.clear("pong");
    this.clear("refresh");
    if (this.stopped) return;
    const o = this.options;
    if (AUTH_CLOSES.includes(code)) {
      this.stopped = true;
      this.listen(false);
      this.setState("error");
      o.onDisconnect?.({ code, reason, willReconnect: false });
      this.emitError({ code: "auth", message: reason || "authentication refused", closeCode: code });
      return;
    }
    const willReconnect = this.retry(code === CloseCode.INVALID_TOKEN, code === CloseCode.INVALID_TOKEN && wasConnected);
    o.onDisconnect?.({ code, reason, willReconnect });
  }

  /** Schedules the next attempt; false when reconnecting is off or attempts ran out. */
  private retry(freshToken: boolean, immediately = false): boolean {
    const o = this.options;
    const max = o.maxReconnectAttempts ?? 10;
    if (o.autoReconnect === false) {
      this.setState("disconnected");
      return false;
    }
    if (this.attempts >= max) {
      this.setState("error");
      this.emitError({
        code: "reconnect_exhausted",
        message: `gave up after ${this.attempts} reconnect attempts`,
      });
      return false;
    }
    const delay = immediately
      ? 0
      : backoffDelay(this.attempts, o.reconnectInterval ?? 5000, o.maxReconnectDelay ?? 60000, o.random);
    this.attempts++;
    this.setState("disconnected");
    this.timers.retry = setTimeout(() => void this.open(freshToken), delay);
    return true;
  }

  private startPing(): void {
    this.clear("ping");
    this.timers.ping = setInterval(() => this.ping(), this.options.pingInterval ?? 30000);
  }

  /** Sends a ping; no answer within `pongTimeout` drops the connection and reconnects. */
  ping(): void {
    if (!this.send({ type: "ping" }) || this.timers.pong) return;
    this.timers.pong = setTimeout(() => {
      this.timers.pong = undefined;
      this.abandon("no pong");
    }, this.options.pongTimeout ?? 10000);
  }

  /** Gives up on the current socket without waiting for its close handshake, then retries. */
  private abandon(reason: string): void {
    const ws = this.ws;
    const wasConnected = this.state === "connected";
    this.generation++;
    ws?.close();
    this.closed(1006, reason, wasConnected);
  }

  private scheduleRefresh(): void {
    this.clear("refresh");
    const exp = this.token ? tokenExpiry(this.token) : undefined;
    if (exp === undefined) return;
    const lead = this.options.refreshBeforeExpiry ?? 60000;
    const delay = Math.min(Math.max(exp * 1000 - Date.now() - lead, 1000), 2 ** 31 - 1);
    this.timers.refresh = setTimeout(() => void this.refreshToken(), delay);
  }

  /** Asks `getToken` for a new token and hands it to the server without reconnecting. */
  async refreshToken(): Promise<void> {
    const generation = this.generation;
    let token: string | null | undefined;
    try {
      token = await this.options.getToken();
    } catch {
      token = undefined;
    }
    if (generation !== this.generation || !token) return;
    this.token = token;
    this.send({ type: "auth", token });
    this.scheduleRefresh();
  }

  /** Sends one client message (JSON) if the socket is open; false when it is not. */
  send(message: object): boolean {
    if (this.ws?.readyState !== OPEN) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  private readonly onOnline = (): void => {
    if (this.stopped || this.state === "connected" || this.state === "connecting") return;
    this.attempts = 0;
    void this.open(false);
  };

  private readonly onVisibility = (): void => {
    if (document.visibilityState === "hidden") {
      this.hiddenAt = Date.now();
      return;
    }
    const hiddenFor = this.hiddenAt === undefined ? 0 : Date.now() - this.hiddenAt;
    this.hiddenAt = undefined;
    if (hiddenFor < (this.options.longHidden ?? 60000)) return;
    if (this.state === "connected") this.ping();
    else this.onOnline();
  };

  private listen(on: boolean): void {
    const method = on ? "addEventListener" : "removeEventListener";
    globalThis.window?.[method]("online", this.onOnline);
    globalThis.document?.[method]("visibilitychange", this.onVisibility);
  }

  private clear(name: keyof typeof this.timers): void {
    clearTimeout(this.timers[name]);
    clearInterval(this.timers[name]);
    this.timers[name] = undefined;
  }

  private setState(state: ConnectionState): void {
    if (state === this.state) return;
    this.state = state;
    this.options.onStateChange?.(state);
    for (const listener of [...this.listeners]) listener.onStateChange?.(state);
  }

  private emitError(error: ClientError): void {
    this.options.onError?.(error);
  }
}
