import { Hono } from "hono";
import { createProvider, scheduledCleanup, type BindingNames } from "edge-oauth-toolkit";
import { signInPage } from "./sign-in-page";

/** What wrangler.toml and the secrets put in `env` (`npx wrangler types` can generate this). */
export interface Env {
  AUTH_DB: D1Database;
  AUTH_KV: KVNamespace;
  AUTH_SIGNING_KEYS: string;
  AUTH_SECRET_KEY: string;
  SCOPES: string;
  ACCESS_TOKEN_AUDIENCE: string;
}

/** Our binding names (the provider's defaults are DB, KV, SIGNING_KEYS and SECRET_KEY). */
const bindings = {
  database: "AUTH_DB",
  kv: "AUTH_KV",
  signingKeys: "AUTH_SIGNING_KEYS",
  secretKey: "AUTH_SECRET_KEY",
} satisfies Partial<BindingNames>;

const app = new Hono<{ Bindings: Env }>();

// The site's own routes live beside the provider's.
app.get("/", (c) => c.text("Example Co. Its authorization server is at /auth (metadata: /auth/.well-known/openid-configuration)."));

// The OAuth endpoints under /auth: /auth/authorize, /auth/token, /auth/login, /auth/.well-known/jwks.json, …
// Only the sign-in page is ours; consent, error and logout pages stay the package's (defaultPages).
app.route(
  "/",
  createProvider({
    basePath: "/auth",
    bindings,
    pages: { login: signInPage },
  }),
);

export default {
  fetch: app.fetch,
  // The Cron Trigger of wrangler.toml: removes expired rows, with the same binding names.
  scheduled: scheduledCleanup<Env>({ bindings }),
} satisfies ExportedHandler<Env>;
