const LOOPBACK_IPS = new Set(["127.0.0.1", "[::1]"]);

/** An `http` URI whose host is a loopback IP literal (RFC 8252 §7.3; `localhost` is not one). */
function isLoopbackIpUri(raw: string): boolean {
  if (!URL.canParse(raw)) return false;
  const url = new URL(raw);
  return url.protocol === "http:" && LOOPBACK_IPS.has(url.hostname);
}

/**
 * Exact string matching of redirect URIs (RFC 9700 §4.1.3). The one exception, when
 * `loopbackPortVaries` (native public clients only): a loopback IP redirect URI may use any port
 * (RFC 8252 §7.3), everything else identical.
 */
export function matchRedirectUri(requested: string, registered: readonly string[], loopbackPortVaries: boolean): boolean {
  if (registered.includes(requested)) return true;
  if (!loopbackPortVaries || !isLoopbackIpUri(requested)) return false;
  // Compare the strings with the ports taken out, so nothing but the port may differ.
  const portless = withoutLoopbackPort(requested);
  return registered.some((candidate) => isLoopbackIpUri(candidate) && withoutLoopbackPort(candidate) === portless);
}

/** The URI as written, minus the port of a loopback IP authority (even a default one such as `:80`). */
function withoutLoopbackPort(raw: string): string {
  return raw.replace(/^(http:\/\/(?:127\.0\.0\.1|\[::1\]))(?::\d*)?(?=[/?#]|$)/, "$1");
}

/** Adds parameters to a redirect URI, keeping the registered URI's own query exactly as it is. */
export function appendQuery(uri: string, params: Record<string, string>): string {
  return `${uri}${uri.includes("?") ? "&" : "?"}${new URLSearchParams(params).toString()}`;
}
