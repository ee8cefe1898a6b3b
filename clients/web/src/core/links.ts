/**
 * Whether a notification's `entity_url` may be followed, the same rule as the API's
 * (`contracts/links.py`): a relative path with a single leading `/`, a fragment of the page
 * (`#/incidents/42`), or an http(s) URL on the page's own host or one of `allowedHosts`. Everything else (`javascript:`, `data:`,
 * `//evil.example`, `/\evil.example`, credentials, whitespace or control characters) is
 * refused, even when it arrives in a forged message that never went through the API.
 *
 * Returns the URL to navigate to, or null when it must not be followed.
 */
export function safeLink(
  url: string | null | undefined,
  base: string | undefined = globalThis.location?.href,
  allowedHosts: readonly string[] = [],
): string | null {
  // Control characters and spaces are what browsers strip or trim before parsing a URL.
  // eslint-disable-next-line no-control-regex
  if (!url || url.includes("\\") || /[\u0000-\u0020\u007f]/.test(url)) return null;
  if (url.startsWith("#")) return url;
  if (url.startsWith("/")) return url.startsWith("//") ? null : url;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return null;
  if (parsed.username || parsed.password) return null;
  const host = parsed.hostname.toLowerCase();
  const own = base ? new URL(base).hostname.toLowerCase() : null;
  return host === own || allowedHosts.some((h) => h.toLowerCase() === host) ? url : null;
}
