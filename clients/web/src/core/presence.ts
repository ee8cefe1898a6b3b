import type { ChannelMembers, PresenceChange, ServerMessage } from "./types";

export const PRESENCE_EVENTS = ["presence:members", "presence:join", "presence:leave"] as const;

/**
 * Who is in one channel, from the socket's presence events: `presence:members` replaces the
 * list (sent when a subscription made with `presence: true` opens, and again after every
 * resubscribe), `presence:join` adds a user, `presence:leave` removes one. A leave arrives
 * a few seconds after the user's last tab left (a reload does not flap).
 */
export class PresenceRoster {
  private members = new Set<string>();

  constructor(readonly channel: string) {}

  /** Applies a server message; true when the list changed. Other messages are ignored. */
  apply(message: ServerMessage): boolean {
    const data = message.data as Partial<ChannelMembers & PresenceChange> | null;
    if (!data || data.channel !== this.channel) return false;
    if (message.event === "presence:members" && Array.isArray(data.user_ids)) {
      const next = new Set(data.user_ids);
      const same = next.size === this.members.size && [...next].every((u) => this.members.has(u));
      this.members = next;
      return !same;
    }
    if (typeof data.user_id !== "string") return false;
    if (message.event === "presence:join" && !this.members.has(data.user_id)) {
      this.members.add(data.user_id);
      return true;
    }
    if (message.event === "presence:leave" && this.members.has(data.user_id)) {
      this.members.delete(data.user_id);
      return true;
    }
    return false;
  }

  /** The members, sorted. */
  list(): string[] {
    return [...this.members].sort();
  }

  has(userId: string): boolean {
    return this.members.has(userId);
  }

  clear(): void {
    this.members.clear();
  }
}
