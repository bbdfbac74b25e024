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
    const withoutPort = (u: URL, raw: string) => raw.replace(`${u.hostname}${u.port ? `:${u.port}` : ""}`, u.hostname);
    return withoutPort(url, requested) === withoutPort(reg, candidate);
  });
}
