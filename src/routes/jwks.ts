import type { Context } from "hono";
import type { ProviderEnv } from "../types";
import { JWKS_MAX_AGE_SECONDS, JWKS_STALE_SECONDS } from "../tokens/database-keys";

/** `GET /o/.well-known/jwks.json`: the public signing keys, readable from any origin. */
export async function jwksEndpoint(c: Context<ProviderEnv>): Promise<Response> {
  const ring = await c.var.keys();
  return c.json(ring.jwks, 200, {
    // DATABASE_SIGNING_KEYS' promotion delay counts on these (tokens/database-keys.ts).
    "Cache-Control": `public, max-age=${JWKS_MAX_AGE_SECONDS}, stale-while-revalidate=${JWKS_STALE_SECONDS}`,
    "Access-Control-Allow-Origin": "*",
    "Content-Type": "application/jwk-set+json",
  });
}
