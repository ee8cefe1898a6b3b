import type { NotificationClient } from "./client";
import type { IncidentUpdate, ServerMessage, Subscribed, TypingNotice } from "./types";

/** `subscribing` until the server answers; `subscribed`; `refused` (see `error`) or `idle`. */
export type ChannelState = "idle" | "subscribing" | "subscribed" | "refused";

export interface ChannelError {
  code: string;
  message: string;
}

export interface ChannelOptions {
  /** Resume after this channel seq (e.g. the `seq` of `GET /api/v1/incidents/{id}`). */
  since?: number;
  /** A channel token from the application's backend (namespaces other than `incident:`). */
  token?: string | (() => string | Promise<string>);
  onUpdate?(update: IncidentUpdate): void;
  onTyping?(notice: TypingNotice): void;
  /** Ask for `presence:members`, `presence:join` and `presence:leave` (see `listenPresence`). */
  presence?: boolean;
  /** The server could not replay what was missed (`recovered: false`): reload over REST. */
  onResync?(): void;
  onStateChange?(state: ChannelState, error?: ChannelError): void;
}

/**
 * One channel on a NotificationClient's socket, kept across reconnects.
 *
 * Subscribes when the socket is (re)established, with `since` = the last channel seq seen, so
 * the server replays what was missed; updates whose seq is not above the last one are dropped.
 * `recovered: false` calls `onResync` and continues from the server's seq.
 */
export class ChannelSubscription {
  state: ChannelState = "idle";
  error?: ChannelError;
  lastSeq?: number;
  private removeListener?: () => void;
  private generation = 0;
  private typingListeners = new Set<(notice: TypingNotice) => void>();
  private presenceListeners = new Set<(message: ServerMessage) => void>();

  constructor(
    readonly client: NotificationClient,
    readonly channel: string,
    readonly options: ChannelOptions = {},
  ) {
    this.lastSeq = options.since;
  }

  start(): void {
    if (this.removeListener) return;
    this.removeListener = this.client.addListener({
      onConnect: () => void this.subscribe(),
      onMessage: (message) => this.receive(message),
      onStateChange: (state) => {
        if (state !== "connected" && this.state === "subscribed") this.setState("subscribing");
      },
    });
    if (this.client.state === "connected") void this.subscribe();
  }

  stop(): void {
    this.generation++;
    this.removeListener?.();
    this.removeListener = undefined;
    this.client.send({ type: "unsubscribe", channel: this.channel });
    this.setState("idle");
  }

  /** Adds a listener of `typing` notices; returns the function that removes it. */
  listenTyping(listener: (notice: TypingNotice) => void): () => void {
    this.typingListeners.add(listener);
    return () => {
      this.typingListeners.delete(listener);
    };
  }

  /** Adds a listener of this channel's presence events; returns the function that removes it. */
  listenPresence(listener: (message: ServerMessage) => void): () => void {
    this.presenceListeners.add(listener);
    return () => {
      this.presenceListeners.delete(listener);
    };
  }

  /** Tells the channel's other subscribers that this user is typing (or stopped). */
  typing(state: "start" | "stop" = "start"): boolean {
    if (this.state !== "subscribed") return false;
    return this.client.send({ type: "typing", channel: this.channel, state });
  }

  private async subscribe(): Promise<void> {
    const generation = ++this.generation;
    this.setState("subscribing");
    const source = this.options.token;
    let token: string | undefined;
    try {
      token = typeof source === "function" ? await source() : source;
    } catch {
      token = undefined;
    }
    if (generation !== this.generation) return;
    const message: Record<string, unknown> = { type: "subscribe", channel: this.channel };
    if (this.lastSeq !== undefined) message.since = this.lastSeq;
    if (token) message.token = token;
    if (this.options.presence) message.presence = true;
    this.client.send(message);
  }

  private receive(message: ServerMessage): void {
    const data = message.data as { channel?: string } | null;
    if (!data || data.channel !== this.channel) return;
    if (message.event === "subscribed") {
      const { seq, recovered } = message.data as Subscribed;
      const resync = recovered === false;
      if (resync || this.lastSeq === undefined) this.lastSeq = seq;
      this.error = undefined;
      this.setState("subscribed");
      if (resync) this.options.onResync?.();
    } else if (message.event === "incident:updated") {
      const update = message.data as IncidentUpdate;
      if (this.lastSeq !== undefined && update.seq <= this.lastSeq) return;
      this.lastSeq = update.seq;
      this.options.onUpdate?.(update);
    } else if (message.event === "typing") {
      const notice = message.data as TypingNotice;
      this.options.onTyping?.(notice);
      for (const listener of [...this.typingListeners]) listener(notice);
    } else if (message.event.startsWith("presence:")) {
      for (const listener of [...this.presenceListeners]) listener(message);
    } else if (message.event === "error" && this.state === "subscribing") {
      const { code, message: text } = message.data as ChannelError;
      this.error = { code, message: text };
      this.setState("refused");
    }
  }

  private setState(state: ChannelState): void {
    if (state === this.state) return;
    this.state = state;
    this.options.onStateChange?.(state, this.error);
  }
}

/** The server relays a start at most once per 2 s; without renewal it is over after 5 s. */
export const TYPING_RENEW_MS = 2000;
export const TYPING_EXPIRY_MS = 5000;

/**
 * Who is typing on a channel, from `typing` notices: a start lasts `expiryMs` unless renewed,
 * a stop ends it at once. `typists()` lists the user ids, oldest first.
 */
export class TypingTracker {
  private until = new Map<string, number>();
  private timer?: ReturnType<typeof setTimeout>;

  constructor(
    private readonly onChange: (typists: string[]) => void,
    private readonly expiryMs = TYPING_EXPIRY_MS,
    private readonly now: () => number = Date.now,
  ) {}

  notice(notice: TypingNotice): void {
    if (notice.state === "stop") this.until.delete(notice.user_id);
    else this.until.set(notice.user_id, this.now() + this.expiryMs);
    this.changed();
  }

  typists(): string[] {
    return [...this.until.keys()];
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.until.clear();
  }

  private changed(): void {
    clearTimeout(this.timer);
    const now = this.now();
    for (const [user, until] of this.until) if (until <= now) this.until.delete(user);
    this.onChange(this.typists());
    if (this.until.size === 0) return;
    const next = Math.min(...this.until.values()) - now;
    this.timer = setTimeout(() => this.changed(), Math.max(next, 0));
  }
}

/** Sends a typing start at most once per `renewMs` while the user keeps typing. */
export class TypingSender {
  private lastStart = -Infinity;

  constructor(
    private readonly send: (state: "start" | "stop") => boolean,
    private readonly renewMs = TYPING_RENEW_MS,
    private readonly now: () => number = Date.now,
  ) {}

  keystroke(): void {
    const now = this.now();
    if (now - this.lastStart < this.renewMs) return;
    if (this.send("start")) this.lastStart = now;
  }

  stop(): void {
    if (this.lastStart === -Infinity) return;
    this.lastStart = -Infinity;
    this.send("stop");
  }
}
