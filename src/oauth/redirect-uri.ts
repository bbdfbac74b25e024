const LOOPBACK_IPS = new Set(["127.0.0.1", "[::1]"]);

function isLoopbackIp(url: URL): boolean {
  return url.protocol === "http:" && LOOPBACK_IPS.has(url.hostname);
}

/**
 * Exact string matching of redirect URIs (RFC 9700 §4.1.3). The one exception: a native app's
 * loopback IP redirect URI may use any port (RFC 8252 §7.3), everything else identical.
 */
export function matchRedirectUri(requested: string, registered: readonly string[]): boolean {
  if (registered.includes(requested)) return true;
  let url: URL;
  try {
    url = new URL(requested);
  } catch {
    return false;
  }
  if (!isLoopbackIp(url)) return false;
  return registered.some((candidate) => {
    let reg: URL;
    try {
      reg = new URL(candidate);
    } catch {
      return false;
    }
    if (!isLoopbackIp(reg)) return false;
    // Compare the strings with the ports taken out, so nothing but the port may differ.
    return withoutLoopbackPort(requested) === withoutLoopbackPort(candidate);
  });
}

/** The URI as written, minus the port of a loopback IP authority (even a default one such as `:80`). */
function withoutLoopbackPort(raw: string): string {
  return raw.replace(/^(http:\/\/(?:127\.0\.0\.1|\[::1\]))(?::\d*)?(?=[/?#]|$)/, "$1");
}
