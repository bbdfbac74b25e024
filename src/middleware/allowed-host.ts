import { invalidRequest } from "../oauth/errors";
import { SettingsError, type Settings } from "../core/settings";
import { LOOPBACK_HOSTNAMES } from "../core/protocol";

/**
 * Which hosts the provider answers for, and its issuer. The issuer never follows a `Host` header
 * that nobody vetted: it is `ISSUER` when set; otherwise the request's origin, but only for hosts
 * in `ALLOWED_HOSTS` (Django's setting: exact hosts, `.example.com` for a domain and its
 * subdomains, `*` for any) or, with neither set, loopback hosts for local development.
 */
export interface Site {
  /** The configured issuer, or undefined to use the request's origin plus the mount path. */
  issuer?: string;
  /** Where the endpoints are advertised: the issuer's origin plus the mount path. */
  endpointBase?: string;
  allows(host: string): boolean;
}

const hostnameOf = (host: string) => host.replace(/:\d+$/, "").toLowerCase();

function hostPattern(entry: string): (host: string) => boolean {
  const pattern = entry.toLowerCase();
  if (pattern === "*") return () => true;
  if (pattern.startsWith(".")) {
    return (host) => {
      const name = hostnameOf(host);
      return name === pattern.slice(1) || name.endsWith(pattern);
    };
  }
  // An entry with a port matches that host and port; without one, the host on any port.
  return pattern.includes(":") && !pattern.endsWith("]") ? (host) => host.toLowerCase() === pattern : (host) => hostnameOf(host) === pattern;
}

function buildSite(settings: Settings, basePath: string): Site {
  const patterns = settings.ALLOWED_HOSTS.map(hostPattern);
  let issuer: string | undefined;
  let endpointBase: string | undefined;
  if (settings.ISSUER !== undefined) {
    const url = new URL(settings.ISSUER);
    const issuerPath = url.pathname.replace(/\/+$/, "");
    if (issuerPath !== basePath || url.search || url.hash) {
      throw new SettingsError(
        `Invalid setting ISSUER: its path (${issuerPath || "/"}) must be the provider's mount path (${basePath || "/"}), without query or fragment`,
      );
    }
    issuer = settings.ISSUER;
    endpointBase = `${url.origin}${basePath}`;
    patterns.push((host) => host.toLowerCase() === url.host);
  }
  const noHostConfigured = patterns.length === 0;
  const decide = (host: string) => patterns.some((matches) => matches(host)) || (noHostConfigured && LOOPBACK_HOSTNAMES.has(hostnameOf(host)));
  // Every request asks, nearly always about the same few hosts: remember the answers (bounded,
  // since the Host header is the client's to choose).
  const answers = new Map<string, boolean>();
  return {
    issuer,
    endpointBase,
    allows: (host) => {
      let allowed = answers.get(host);
      if (allowed === undefined) {
        allowed = decide(host);
        if (answers.size >= 64) answers.clear();
        answers.set(host, allowed);
      }
      return allowed;
    },
  };
}

/** The answer to a request for a host this server does not answer for (Django's 400). */
export const hostNotServed = () => invalidRequest("this server does not answer for this host (see ALLOWED_HOSTS)");

/** The site of these settings, computed once per settings object (so once per isolate in the ready Worker). */
export function siteReader(basePath: string): (settings: Settings) => Site {
  const cache = new WeakMap<Settings, Site>();
  return (settings) => {
    let site = cache.get(settings);
    if (!site) {
      site = buildSite(settings, basePath);
      cache.set(settings, site);
    }
    return site;
  };
}
