/** How far a reconnect delay may stray from its nominal value, either way (20 %). */
export const BACKOFF_JITTER = 0.2;

/**
 * The delay before reconnect attempt `attempt` (0 is the first retry): `baseMs` × 2^attempt,
 * capped at `capMs`, then jittered by ±20 %. So the first retry comes after about `baseMs` (the
 * hook's `reconnectInterval`, as the feature description means it), later ones back off
 * exponentially, and a crowd of clients that lost the same server spreads out instead of coming
 * back in the same instant. Never more than `capMs`.
 */
export function backoffDelay(
  attempt: number,
  baseMs: number,
  capMs: number,
  random: () => number = Math.random,
): number {
  const nominal = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt));
  const jittered = nominal * (1 - BACKOFF_JITTER + 2 * BACKOFF_JITTER * random());
  return Math.min(capMs, Math.round(jittered));
}
