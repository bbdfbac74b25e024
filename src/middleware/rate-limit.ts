import type { Context, MiddlewareHandler } from "hono";
import { clientAddress, UNKNOWN_ADDRESS } from "../core/client-address";
import type { ProviderEnv } from "../types";
import { sendPage } from "../views/render";

/** The Workers Rate Limiting bindings the provider uses when the Worker declares them (wrangler.toml). */
export type RateLimitBinding = "tokenRateLimit" | "loginRateLimit" | "introspectRateLimit" | "registerRateLimit";

/**
 * The `period` of every binding in wrangler.toml. The binding does not say its period, and its
 * windows are fixed, so this is the longest a refused client has to wait: the `Retry-After`.
 */
export const RATE_LIMIT_PERIOD_SECONDS = 60;

type Ctx = Context<ProviderEnv>;
type Refusal = (c: Ctx) => Response | Promise<Response>;

const refusalHeaders = { "Retry-After": String(RATE_LIMIT_PERIOD_SECONDS), "Cache-Control": "no-store" };

/**
 * RFC 6585 §4. OAuth defines no error code for this; `too_many_requests` names the status, and
 * clients that do not know it still see the 429 and `Retry-After`.
 */
export const tooManyRequestsJson: Refusal = (c) =>
  c.json({ error: "too_many_requests", error_description: "too many requests from this address; try again later" }, 429, refusalHeaders);

/** The same for people: a page rather than JSON. */
export const tooManyRequestsPage: Refusal = (c) => {
  for (const [name, value] of Object.entries(refusalHeaders)) c.header(name, value);
  const html = c.get("pages").message({ title: "Too many requests", message: "Too many requests from your network. Please wait a minute and try again." }, c);
  return sendPage(c, html, 429);
};

/**
 * Per-address rate limit with a Workers Rate Limiting binding: a counter kept in memory at the
 * Cloudflare location, so no storage round-trip. Counts POSTs only, the requests that do work (the
 * endpoints answer other methods with a form, a CORS preflight or a 405). Skipped when the Worker
 * did not declare the binding (it is optional for a host Worker), and for requests without a client
 * address: those come from inside (service bindings, tests), and one shared bucket for all of them
 * would let any one starve the others.
 */
export function rateLimit(binding: RateLimitBinding, refuse: Refusal = tooManyRequestsJson): MiddlewareHandler<ProviderEnv> {
  return async (c, next) => {
    const limiter = c.env[c.get("bindings")[binding]] as RateLimit | undefined;
    if (!limiter || c.req.method !== "POST") return next();
    const address = clientAddress(c.req.raw.headers);
    if (address === UNKNOWN_ADDRESS) return next();
    const { success } = await limiter.limit({ key: address });
    if (!success) return refuse(c);
    return next();
  };
}
