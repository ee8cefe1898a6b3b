import { useCallback, useEffect, useRef, useState } from "react";
import type { NotificationData } from "../core/types";

export interface ToastQueue {
  toasts: NotificationData[];
  push: (notification: NotificationData) => void;
  dismiss: (id: string) => void;
  clear: () => void;
}

/** Toasts for new notifications: one per id, removed after `duration` ms (critical ones stay twice as long). */
export function useToasts(duration: number, max = 4): ToastQueue {
  const [toasts, setToasts] = useState<NotificationData[]>([]);
  const timers = useRef(new Map<string, ReturnType<typeof setTimeout>>());
  const seen = useRef(new Set<string>()); // ids already toasted (a replay never toasts twice)

  const dismiss = useCallback((id: string) => {
    clearTimeout(timers.current.get(id));
    timers.current.delete(id);
    setToasts((all) => all.filter((t) => t.id !== id));
  }, []);

  const push = useCallback(
    (notification: NotificationData) => {
      if (seen.current.has(notification.id)) return;
      seen.current.add(notification.id);
      if (seen.current.size > 500) seen.current.delete(seen.current.values().next().value!);
      const ms = notification.priority === "critical" ? duration * 2 : duration;
      timers.current.set(notification.id, setTimeout(() => dismiss(notification.id), ms));
      setToasts((all) => [...all.filter((t) => t.id !== notification.id), notification].slice(-max));
    },
    [dismiss, duration, max],
  );

  const clear = useCallback(() => {
    for (const timer of timers.current.values()) clearTimeout(timer);
    timers.current.clear();
    setToasts([]);
  }, []);

  useEffect(() => {
    const pending = timers.current;
    return () => {
      for (const timer of pending.values()) clearTimeout(timer);
      pending.clear();
    };
  }, []);

  return { toasts, push, dismiss, clear };
}

export function Toasts({ queue }: { queue: ToastQueue }) {
  return (
    <div className="tocsin-toasts" role="status" aria-live="polite" aria-relevant="additions">
      {queue.toasts.map((t) => (
        <div
          key={t.id}
          className={`tocsin-toast tocsin-p-${t.priority}`}
          data-notification-id={t.id}
          role={t.priority === "critical" ? "alert" : undefined}
        >
          <div className="tocsin-toast-body">
            <span className="tocsin-prio">{t.priority}</span>
            <strong>{t.title}</strong>
            {t.message && <p>{t.message}</p>}
          </div>
          <button
            type="button"
            className="tocsin-x"
            aria-label={`Dismiss ${t.title}`}
            onClick={() => queue.dismiss(t.id)}
          >
            ×
          </button>
        </div>
      ))}
    </div>
  );
}
