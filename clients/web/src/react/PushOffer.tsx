import { useEffect, useState } from "react";
import type { TokenSource } from "../core/client";
import { disablePush, enablePush, PushError, pushSupported } from "../push";

export interface PushOfferProps {
  /** Base URL of the push service; the gateway serves it on the API's origin. */
  pushUrl: string;
  /** Base URL of the notification API (a clicked push marks its notification read there). */
  apiUrl: string;
  getToken: TokenSource;
  /** The service worker's URL (default: the push module's PUSH_WORKER_URL). */
  workerUrl?: string;
}

type Offer =
  | { state: "checking" | "off" | "working" | "on" }
  | { state: "failed"; reason: string };

const REASONS: Record<string, string> = {
  denied: "Notifications are blocked for this site in the browser's settings.",
  unsupported: "This browser cannot receive push notifications.",
  too_many_devices: "Too many devices get push notifications already; remove one first.",
  web_push_disabled: "Push notifications are not set up on this server.",
};

function reasonOf(error: unknown): string {
  if (error instanceof PushError) return REASONS[error.code] ?? error.message;
  return `Push notifications could not be turned on (${String((error as Error)?.message ?? error)}).`;
}

async function subscribed(): Promise<boolean> {
  const registration = await navigator.serviceWorker.getRegistration();
  return Boolean(await registration?.pushManager.getSubscription());
}

/**
 * "Notify me when I'm away": turns browser push on or off for this device. Renders nothing
 * where the browser has no Web Push. Pushes go out only while the person has no tab open, or
 * when a notification stays unread (the push service's policy).
 */
export function PushOffer(props: PushOfferProps) {
  const supported = pushSupported();
  const [offer, setOffer] = useState<Offer>({ state: "checking" });

  useEffect(() => {
    if (!supported) return;
    let live = true;
    subscribed().then(
      (on) => live && setOffer({ state: on ? "on" : "off" }),
      () => live && setOffer({ state: "off" }),
    );
    return () => {
      live = false;
    };
  }, [supported]);

  if (!supported) return null;

  const turnOn = async () => {
    setOffer({ state: "working" });
    try {
      await enablePush(props);
      setOffer({ state: "on" });
    } catch (error) {
      setOffer({ state: "failed", reason: reasonOf(error) });
    }
  };
  const turnOff = async () => {
    setOffer({ state: "working" });
    try {
      await disablePush(props);
      setOffer({ state: "off" });
    } catch (error) {
      setOffer({ state: "failed", reason: reasonOf(error) });
    }
  };

  return (
    <div className="tocsin-push" data-testid="tocsin-push" data-state={offer.state}>
      {offer.state === "on" ? (
        <button type="button" className="tocsin-link" onClick={() => void turnOff()}>
          Stop notifying me when I'm away
        </button>
      ) : (
        <button
          type="button"
          className="tocsin-link"
          disabled={offer.state === "working" || offer.state === "checking"}
          onClick={() => void turnOn()}
        >
          Notify me when I'm away
        </button>
      )}
      {offer.state === "failed" && (
        <p className="tocsin-push-error" role="status">
          {offer.reason}
        </p>
      )}
    </div>
  );
}
