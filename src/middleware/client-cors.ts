import type { MiddlewareHandler } from "hono";
import { isOriginRegistered } from "../db/clients";
import type { ProviderEnv } from "../types";

/**
 * CORS for the endpoints browser clients call (token, and later revocation and userinfo): an
 * origin some client registered in `allowed_origins` gets `Access-Control-Allow-Origin` set to
 * itself, never `*`; once the route knows the client, only that client's origins count.
 * Other origins get no CORS headers at all.
 */
export function clientCors(methods = "POST, OPTIONS"): MiddlewareHandler<ProviderEnv> {
  return async (c, next) => {
    const origin = c.req.header("origin");
    const settings = c.get("settings");
    const registered = origin ? await isOriginRegistered(c.get("db"), origin, settings.CLIENT_CACHE_SECONDS) : false;
    if (c.req.method === "OPTIONS") {
      c.header("Vary", "Origin");
      if (!registered || !origin) return c.body(null, 204);
      return c.body(null, 204, {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": methods,
        "Access-Control-Allow-Headers": "Content-Type, Authorization, DPoP",
        "Access-Control-Max-Age": "600",
      });
    }
    await next();
    // Set on the built response directly: c.header() after next() would copy the response.
    const headers = c.res.headers;
    headers.append("Vary", "Origin");
    const clientOrigins = c.get("clientOrigins");
    const allowed = clientOrigins ? origin !== undefined && clientOrigins.includes(origin) : registered;
    if (allowed && origin) {
      headers.set("Access-Control-Allow-Origin", origin);
      headers.set("Access-Control-Expose-Headers", "WWW-Authenticate, DPoP-Nonce");
    }
  };
}
