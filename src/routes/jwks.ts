import type { Context } from "hono";
import type { ProviderEnv } from "../types";

/** `GET /o/.well-known/jwks.json`: the public signing keys, readable from any origin. */
export async function jwksEndpoint(c: Context<ProviderEnv>): Promise<Response> {
  const ring = await c.var.keys();
  return c.json(ring.jwks, 200, {
    "Cache-Control": "public, max-age=300, stale-while-revalidate=60",
    "Access-Control-Allow-Origin": "*",
    "Content-Type": "application/jwk-set+json",
  });
}
