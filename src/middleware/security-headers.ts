import type { MiddlewareHandler } from "hono";
import { secureHeaders } from "hono/secure-headers";

/**
 * Hono's secure headers on every response (`nosniff`, `X-Frame-Options: DENY`, a referrer policy,
 * …), never overwriting what a route set itself (pages send their own CSP and referrer policy),
 * and HSTS on https only (a loopback http server must stay reachable). Not set: a cross-origin
 * opener policy, which would cut the link between a client's popup sign-in and its window, and a
 * cross-origin resource policy, since JWKS and metadata are read from other origins.
 */
export function securityHeaders(): MiddlewareHandler {
  const headers = secureHeaders({
    crossOriginOpenerPolicy: false,
    crossOriginResourcePolicy: false,
    strictTransportSecurity: false,
    xFrameOptions: "DENY",
    overwrite: false,
  });
  return async (c, next) => {
    await headers(c, next);
    // workerd hands the request's URL serialized: its scheme is lower case, at the start.
    if (c.req.url.startsWith("https:") && !c.res.headers.has("Strict-Transport-Security")) {
      c.res.headers.set("Strict-Transport-Security", "max-age=31536000");
    }
  };
}
