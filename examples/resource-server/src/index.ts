import { Hono } from "hono";
import { requireToken, type RequireTokenVariables } from "edge-oauth-toolkit";

/** What wrangler.toml puts in `env` (`npx wrangler types` can generate this). */
export type Env = {
  /** Service binding to the provider Worker. */
  AUTH: Fetcher;
  /** The provider's KV namespace, for its revocation notes. */
  AUTH_KV: KVNamespace;
  /** The provider's issuer; requireToken reads ISSUER and ACCESS_TOKEN_AUDIENCE from env by default. */
  ISSUER: string;
  ACCESS_TOKEN_AUDIENCE: string;
};

type AppEnv = { Bindings: Env; Variables: RequireTokenVariables };

/**
 * Access tokens of the provider with these scopes. The JWKS URL follows the ISSUER var; with
 * `service`, it is fetched through the service binding, never over the internet (its host must be
 * one the provider answers for: its ISSUER's, or loopback in development). Keys are cached per
 * isolate for ten minutes.
 */
const protect = (scopes: string[]) =>
  requireToken({
    jwksUrl: (env) => `${env.ISSUER}/.well-known/jwks.json`,
    service: "AUTH",
    revocation: "AUTH_KV",
    scopes,
  });

const app = new Hono<AppEnv>();

app.get("/", (c) => c.text("Example Co. API: GET /api/orders with a Bearer token (scope read)."));

app.get("/api/orders", protect(["read"]), (c) => {
  const token = c.get("accessToken");
  return c.json({ user: token.sub, client: token.client_id, scope: token.scope, orders: [{ id: 1, item: "tea" }] });
});

app.post("/api/orders", protect(["write"]), (c) => c.json({ created: true, user: c.get("accessToken").sub }, 201));

export default app;
