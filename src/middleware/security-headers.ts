import type { MiddlewareHandler } from "hono";

type HeaderList = ReadonlyArray<readonly [string, string]>;

/**
 * For HTML pages: hono/secure-headers' set with frames refused. Not set: a cross-origin opener
 * policy, which would cut the link between a client's popup sign-in and its window, and a
 * cross-origin resource policy, since JWKS and metadata are read from other origins.
 */
const PAGE_HEADERS: HeaderList = [
  ["Origin-Agent-Cluster", "?1"],
  ["Referrer-Policy", "no-referrer"],
  ["X-Content-Type-Options", "nosniff"],
  ["X-DNS-Prefetch-Control", "off"],
  ["X-Download-Options", "noopen"],
  ["X-Frame-Options", "DENY"],
  ["X-Permitted-Cross-Domain-Policies", "none"],
  ["X-XSS-Protection", "0"],
];

/**
 * For everything else (JSON, JWKS, plain-text errors), what OWASP's REST cheat sheet asks of an
 * API: no sniffing into HTML, no framing. The others only govern documents, and each header costs
 * a token request about 2 µs in workerd (the eight of pages cost 0.75 → 0.85 of the ceiling route).
 */
const API_HEADERS: HeaderList = [
  ["X-Content-Type-Options", "nosniff"],
  ["X-Frame-Options", "DENY"],
];

const HSTS = "max-age=31536000";

/**
 * A response whose own CSP lets some site frame it (`frame-ancestors` other than `'none'`: the
 * check-session iframe) decides framing itself: `X-Frame-Options: DENY` would forbid what it allows.
 */
const framingAllowed = (headers: Headers) => /frame-ancestors (?!'none')/.test(headers.get("Content-Security-Policy") ?? "");

/**
 * The security headers on every response, never overwriting what a route set itself (pages send
 * their own CSP and referrer policy; a page whose CSP allows framing gets no X-Frame-Options), and
 * HSTS on https only (a loopback http server must stay reachable).
 */
export function securityHeaders(): MiddlewareHandler {
  return async (c, next) => {
    await next();
    const headers = c.res.headers;
    const list = headers.get("Content-Type")?.startsWith("text/html") ? PAGE_HEADERS : API_HEADERS;
    for (const [name, value] of list) {
      if (headers.has(name) || (name === "X-Frame-Options" && framingAllowed(headers))) continue;
      headers.set(name, value);
    }
    // workerd hands the request's URL serialized: its scheme is lower case, at the start.
    if (c.req.url.startsWith("https:") && !headers.has("Strict-Transport-Security")) {
      headers.set("Strict-Transport-Security", HSTS);
    }
  };
}
