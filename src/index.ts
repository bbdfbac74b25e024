import { Hono, type Context, type MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import { isOriginRegistered } from "./db/clients";
import { openDatabase } from "./db/index";
import { protectedResourceMetadata } from "./middleware/protected-resource";
import { requireToken, type RequireTokenVariables } from "./middleware/require-token";
import { hostNotServed, siteReader } from "./middleware/allowed-host";
import { errorBody } from "./oauth/errors";
import { securityHeaders } from "./middleware/security-headers";
import { countStorage, type StorageCountVariables } from "./middleware/storage-count";
import { createProvider, scheduledCleanup } from "./provider";
import { demoCallback } from "./worker/demo-callback";
import { demoLoginPage } from "./worker/demo-login";
import { home } from "./worker/home";
import { SettingsError, settingsReader } from "./core/settings";
import { requestOrigin } from "./core/request-origin";

/** The ready Worker: the provider with its settings from wrangler vars and secrets. */
const settingsOf = settingsReader();
const siteOf = siteReader("/o");
const app = new Hono<{ Bindings: Env; Variables: RequireTokenVariables & StorageCountVariables }>();

/** Why the settings of this env are unusable, or undefined (parsed once per env: no cost when warm). */
function invalidSettings(env: Env): string | undefined {
  try {
    settingsOf(env);
    return undefined;
  } catch (err) {
    if (err instanceof SettingsError) return (err.settings.length > 0 ? err.settings : ["settings"]).join(", ");
    throw err;
  }
}

/** A trivial route: liveness and the operator's configuration check, and the benchmark's baseline. */
app.get("/healthz", (c) => {
  const invalid = invalidSettings(c.env);
  return invalid ? c.text(`settings invalid: ${invalid}`, 503) : c.text("ok");
});
// The provider sets headers and checks the host for its own routes; these do the same for the
// ready Worker's own pages and API (and only those: provider requests would pay twice).
const onlyServedHosts: MiddlewareHandler<{ Bindings: Env }> = async (c, next) => {
  if (siteOf(settingsOf(c.env)).allows(requestOrigin(c.req.url).host)) return next();
  const err = hostNotServed();
  return c.json(errorBody(err), err.status, { "Cache-Control": "no-store" });
};
const pageHeaders = securityHeaders();
const API_METADATA_PATH = "/.well-known/oauth-protected-resource/api";
for (const path of ["/", "/demo/*", "/api/*", API_METADATA_PATH]) app.use(path, pageHeaders, onlyServedHosts);
app.get("/", home);

/** Where `npm start`'s demo client lands: shows the code and how to exchange it. */
app.get("/demo/callback", demoCallback);

/** An example protected API, used by the docs and tests. */
// Browser clients call it cross-origin with a Bearer token (a preflight): CORS for the origins
// clients registered, as the token endpoint allows them. No cookies are involved.
const apiCors = cors({
  origin: async (origin, c) =>
    origin && (await isOriginRegistered(openDatabase(c.env.DB), origin, settingsOf(c.env).CLIENT_CACHE_SECONDS)) ? origin : null,
  allowMethods: ["GET"],
  // RFC 9449: DPoP-bound tokens come with a DPoP proof header.
  allowHeaders: ["Authorization", "DPoP"],
  exposeHeaders: ["WWW-Authenticate", "DPoP-Nonce"],
  maxAge: 600,
});
app.use("/api/*", async (c, next) => {
  if (c.req.method === "OPTIONS" || c.req.header("origin") !== undefined) return apiCors(c, next);
  // Not a CORS request (no Origin): the same headers hono/cors would send, set on the route's own
  // response. (hono/cors sets them on a placeholder response first, and Hono then copies the
  // route's response twice to merge the two.)
  await next();
  c.res.headers.set("Access-Control-Expose-Headers", "WWW-Authenticate,DPoP-Nonce");
  c.res.headers.append("Vary", "Origin");
});
app.use("/api/*", countStorage());
/**
 * The API's resource identifier (RFC 8707, RFC 9728): what clients name with `resource`. It lies
 * under the default audience (this origin), so the provider knows it without RESOURCES; tokens
 * for the default audience (clients that name no resource) are accepted too.
 */
const apiResource = (c: Context<{ Bindings: Env }>) => `${requestOrigin(c.req.url).origin}/api`;
const defaultAudience = (c: Context<{ Bindings: Env }>) => settingsOf(c.env).ACCESS_TOKEN_AUDIENCE ?? requestOrigin(c.req.url).origin;
app.on(
  ["GET", "OPTIONS"],
  API_METADATA_PATH,
  protectedResourceMetadata({ resource: apiResource, scopesSupported: ["read"], resourceName: "Example API" }),
);
/** The provider's DPoP settings, which its UserInfo and token endpoint follow too. */
const apiDpop = {
  dpopNonce: (c: Context<{ Bindings: Env }>) => settingsOf(c.env).DPOP_NONCE,
  dpopWindowSeconds: (c: Context<{ Bindings: Env }>) => settingsOf(c.env).DPOP_PROOF_WINDOW_SECONDS,
};
app.get("/api/me", requireToken({ scopes: ["read"], resource: apiResource, audience: defaultAudience, ...apiDpop }), (c) => {
  const token = c.get("accessToken");
  return c.json({ sub: token.sub, client_id: token.client_id, scope: token.scope });
});

// Under `npm start` (the DEMO_USER var) the login page names the demo user; deployed, it is the provider's own.
app.route("/", createProvider({ pages: { login: demoLoginPage } }));

export default {
  fetch: app.fetch,
  /** Cron Trigger: DOT's `cleartokens`, in bounded batches. */
  scheduled: scheduledCleanup(),
} satisfies ExportedHandler<Env>;
