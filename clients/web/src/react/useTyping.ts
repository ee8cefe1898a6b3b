import { useCallback, useEffect, useRef, useState } from "react";
import { TypingSender, TypingTracker, type ChannelSubscription } from "../core/channels";

export interface UseTypingResult {
  /** Who else is typing on the channel now (the server never echoes your own typing). */
  typists: string[];
  /** Call on every keystroke: sends a start at most once per 2 s. */
  keystroke: () => void;
  /** Call when the message is sent or the field is cleared. */
  stop: () => void;
}

/**
 * Typing indicators of a channel subscribed with `useChannel` (pass its `subscription`).
 * A start shows for 5 s unless renewed (the typist's client renews every 2 s while typing);
 * a stop hides it at once. Nothing is stored: after a reconnect the list starts empty.
 */
export function useTyping(subscription: ChannelSubscription | null): UseTypingResult {
  const [typists, setTypists] = useState<string[]>([]);
  const sender = useRef<TypingSender | null>(null);

  useEffect(() => {
    if (!subscription) return;
    const tracker = new TypingTracker(setTypists);
    const unlisten = subscription.listenTyping((notice) => tracker.notice(notice));
    sender.current = new TypingSender((state) => subscription.typing(state));
    return () => {
      unlisten();
      sender.current = null;
      tracker.dispose();
      setTypists([]);
    };
  }, [subscription]);

  const keystroke = useCallback(() => sender.current?.keystroke(), []);
  const stop = useCallback(() => sender.current?.stop(), []);
  return { typists, keystroke, stop };
}
