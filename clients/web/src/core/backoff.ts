/**
 * Exponential backoff with full jitter: a uniformly random delay in [0, min(cap, base * 2^n)).
 * Full jitter spreads a crowd of clients that lost the same server over the whole window, so
 * they do not all come back in the same instant.
 */
export function backoffDelay(
  attempt: number,
  baseMs: number,
  capMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt));
  return Math.floor(random() * ceiling);
}
