import { Hono, type Context, type MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import { builtinAccounts, type AccountStore } from "./session/accounts";
import { openDatabase, type Database } from "./db/index";
import { clientCors } from "./middleware/client-cors";
import { rateLimit, tooManyRequestsPage } from "./middleware/rate-limit";
import { hostNotServed, siteReader } from "./middleware/allowed-host";
import { securityHeaders } from "./middleware/security-headers";
import { clientConfigurationEndpoint, registerEndpoint } from "./routes/register";
import { countStorage } from "./middleware/storage-count";
import { eventEmitter, type EventHook } from "./core/events";
import { errorBody, OAuthError } from "./oauth/errors";
import { authorizeGet, authorizePost } from "./routes/authorize";
import { checkSessionEndpoint } from "./routes/check-session";
import {
  applicationDelete,
  applicationDeleteForm,
  applicationDetail,
  applicationList,
  applicationRegister,
  applicationRegisterForm,
  applicationRotateSecret,
  applicationUpdate,
  applicationUpdateForm,
} from "./routes/applications";
import {
  consoleClient,
  consoleClientCreate,
  consoleClientDelete,
  consoleClientDeleteForm,
  consoleClientForm,
  consoleClientRevokeTokens,
  consoleClientRotateSecret,
  consoleClients,
  consoleEvents,
  consoleHome,
  consoleKeyAdd,
  consoleKeyPromote,
  consoleKeyRetire,
  consoleKeys,
  consoleUser,
  consoleUserCreate,
  consoleUserDisable,
  consoleUserEnable,
  consoleUserForm,
  consoleUserPassword,
  consoleUsers,
  consoleUserSignOut,
} from "./routes/operator-console";
import { deviceAuthorizationEndpoint } from "./routes/device-authorization";
import { deviceVerificationGet, deviceVerificationPost } from "./routes/device-verification";
import { authorizedTokensList, revokeAuthorizationGet, revokeAuthorizationPost } from "./routes/authorized-tokens";
import { metadataEndpoint } from "./routes/discovery";
import { introspectEndpoint } from "./routes/introspect";
import { jwksEndpoint } from "./routes/jwks";
import { loginGet, loginPost } from "./routes/login";
import { logoutGet, logoutPost } from "./routes/logout";
import { openapiEndpoint, openapiReferencePage } from "./routes/openapi";
import { parEndpoint } from "./routes/par";
import { revokeEndpoint } from "./routes/revoke";
import { tokenEndpoint } from "./routes/token";
import { userinfoEndpoint } from "./routes/userinfo";
import { SettingsError, settingsReader, type Settings } from "./core/settings";
import { runAfterResponse } from "./core/after-response";
import { loadKeyRing, type KeyRing } from "./tokens/keys";
import { deliverBackChannelLogouts } from "./oidc/backchannel-logout";
import { databaseKeyRing } from "./tokens/database-keys";
import { requireSecretKey } from "./tokens/secret-keys";
import { DEFAULT_BINDING_NAMES, type BindingNames, type ProviderBindings, type ProviderEnv } from "./types";
import { defaultPages, type PageRenderers } from "./views/render";
import { errorFields, logError, logInfo } from "./core/log";
import { clearExpired } from "./db/cleanup";
import { auditRow, isRecorded, recordAuditEvents, type AuditRow } from "./db/audit-events";
import { nowSeconds } from "./core/time";
import { requestOrigin } from "./core/request-origin";

/**
 * How a setting is given in code: lifetimes as numbers, flags as booleans, lists as arrays (or
 * space-separated strings), scopes as an object (wrangler vars give all of them as strings).
 */
type SettingOption<T> = T extends boolean ? boolean : T extends number ? number : T extends string[] ? string | string[] : T extends Record<string, string> ? T | string : T;

/** Settings as `createProvider({ settings })` takes them (README, "Settings"). */
export type SettingsOptions = { [K in keyof Settings]?: SettingOption<Settings[K]> };

export interface ProviderOptions {
  /** Settings that take precedence over the Worker's vars. */
  settings?: SettingsOptions;
  /** Where the OAuth endpoints live; the issuer is the origin plus this path unless ISSUER is set. */
  basePath?: string;
  /** Replace how users sign in (default: the built-in users table). */
  accounts?: AccountStore;
  /** Replace any of the HTML pages (login, consent, error, logout, message, deviceCode, deviceConfirm). */
  pages?: Partial<PageRenderers>;
  /**
   * The names of the bindings and secrets in your Worker's `env`, when they are not `DB`, `KV`,
   * `SIGNING_KEYS` and `SECRET_KEY` (and the rate limits' `TOKEN_RATE_LIMIT`, …).
   *
   * @example
   * createProvider({ bindings: { database: "AUTH_DB", kv: "AUTH_KV", secretKey: "AUTH_SECRET" } })
   */
  bindings?: Partial<BindingNames>;
  /**
   * Told of tokens issued, refreshed and revoked, users' grants and denials, sign-ins and lockouts,
   * and refresh-token or code reuse (DOT's signals; README, "Events").
   */
  events?: EventHook;
}

/**
 * Registration reads no cookie (an initial access token, when one is needed, is a header), so any
 * origin may call it: browser-based clients such as MCP inspectors register themselves. Not the
 * management endpoint, which no browser client needs.
 */
const registrationCors = cors({
  origin: "*",
  allowMethods: ["POST", "OPTIONS"],
  allowHeaders: ["Content-Type", "Authorization"],
  exposeHeaders: ["WWW-Authenticate"],
  maxAge: 600,
});

/**
 * The events an operator looks back on (the console's recent events) wait with their request, and
 * are written in one statement once its response is ready (`waitUntil`): never on the request's
 * own path, and outside what `X-Storage-Ops` counts (recordAuditTrail runs outside countStorage).
 */
const pendingAuditRows = new WeakMap<Request, AuditRow[]>();

const auditTrail: EventHook = (event, c) => {
  const settings = c.get("settings") as Settings | undefined;
  if (!settings || settings.EVENT_HISTORY_DAYS === 0 || !isRecorded(event)) return;
  const rows = pendingAuditRows.get(c.req.raw) ?? [];
  rows.push(auditRow(event, nowSeconds()));
  pendingAuditRows.set(c.req.raw, rows);
};

const recordAuditTrail: MiddlewareHandler<ProviderEnv> = async (c, next) => {
  await next();
  const rows = pendingAuditRows.get(c.req.raw);
  if (!rows) return;
  pendingAuditRows.delete(c.req.raw);
  runAfterResponse(c, recordAuditEvents(c.get("db"), rows).catch((err: unknown) => logError("recording events failed", errorFields(err))));
};

/** The signing keys: the SIGNING_KEYS secret's, with DATABASE_SIGNING_KEYS those in D1 too. */
function keyRingOf(settings: Settings, db: Database, signingKeys: string | undefined): () => Promise<KeyRing> {
  return settings.DATABASE_SIGNING_KEYS ? async () => databaseKeyRing(db, signingKeys, requireSecretKey(settings.SECRET_KEY)) : () => loadKeyRing(signingKeys);
}

const methodNotAllowed = (allow: string) => () => {
  throw new OAuthError("invalid_request", `this endpoint accepts ${allow.replace(", OPTIONS", "")} only`, 405, { Allow: allow });
};

function renderError(err: Error, c: Context<ProviderEnv>): Response {
  if (err instanceof OAuthError) {
    return c.json(errorBody(err), err.status, { ...err.headers, "Cache-Control": "no-store" });
  }
  if (err instanceof SettingsError) {
    // The operator reads the setting's name in the log and at /healthz; callers learn only that much.
    logError("server misconfigured", { detail: err.message });
    return c.json({ error: "server_error", error_description: "the server is misconfigured" }, 500, {
      "Cache-Control": "no-store",
    });
  }
  logError("unexpected error", errorFields(err));
  return c.json({ error: "server_error", error_description: "the server could not complete the request" }, 500, {
    "Cache-Control": "no-store",
  });
}

function missingBinding(name: string): SettingsError {
  return new SettingsError(`Missing binding ${name}: bind it in wrangler.toml, or name yours with createProvider({ bindings })`, [name]);
}

/**
 * The settings of an env: its vars, the secret key under its binding name, then the typed options.
 * Parsed once per env object (workerd hands every request of an isolate the same one).
 */
export function settingsOfEnv(bindings: Pick<BindingNames, "secretKey">, overrides?: SettingsOptions): (env: ProviderBindings) => Settings {
  const read = settingsReader(overrides);
  if (bindings.secretKey === DEFAULT_BINDING_NAMES.secretKey) return read;
  const views = new WeakMap<ProviderBindings, ProviderBindings>();
  return (env) => {
    let view = views.get(env);
    if (!view) {
      view = { ...env, SECRET_KEY: env[bindings.secretKey] };
      views.set(env, view);
    }
    return read(view);
  };
}

const databases = new WeakMap<D1Database, Database>();

/** The Drizzle wrapper of a D1 binding, built once per binding object (every request of an isolate gets the same one). */
function databaseOf(d1: D1Database): Database {
  let db = databases.get(d1);
  if (!db) {
    db = openDatabase(d1);
    databases.set(d1, db);
  }
  return db;
}

/**
 * The authorization server as a Hono app. Mount it at the root of a Worker:
 *
 * @example
 * const app = new Hono();
 * app.route("/", createProvider({ settings: { ACCESS_TOKEN_EXPIRE_SECONDS: 600 } }));
 * export default app;
 */
export function createProvider(options: ProviderOptions = {}): Hono<ProviderEnv> {
  const basePath = (options.basePath ?? "/o").replace(/\/+$/, "");
  const accounts = options.accounts ?? builtinAccounts;
  const pages: PageRenderers = { ...defaultPages, ...options.pages };
  const bindings: BindingNames = { ...DEFAULT_BINDING_NAMES, ...options.bindings };
  const settingsFor = settingsOfEnv(bindings, options.settings);
  const siteFor = siteReader(basePath);
  const eventHooks = options.events ? [options.events, auditTrail] : [auditTrail];
  const app = new Hono<ProviderEnv>();
  app.onError(renderError);

  app.use("*", recordAuditTrail);
  app.use("*", securityHeaders());
  app.use("*", countStorage<ProviderEnv>({ header: (c) => settingsFor(c.env).STORAGE_COUNT_HEADER === true, bindings }));
  app.use("*", async (c, next) => {
    const settings = settingsFor(c.env);
    const site = siteFor(settings);
    const { host, origin } = requestOrigin(c.req.url);
    if (!site.allows(host)) {
      throw hostNotServed();
    }
    const d1 = c.get("d1");
    if (!d1 || !c.get("kv")) throw missingBinding(d1 ? bindings.kv : bindings.database);
    c.set("settings", settings);
    c.set("db", databaseOf(d1));
    c.set("issuer", site.issuer ?? `${origin}${basePath}`);
    c.set("endpointBase", site.endpointBase ?? `${origin}${basePath}`);
    c.set("audience", settings.ACCESS_TOKEN_AUDIENCE ?? origin);
    c.set("basePath", basePath);
    c.set("bindings", bindings);
    c.set("accounts", accounts);
    c.set("pages", pages);
    c.set("emit", eventEmitter(eventHooks, c));
    c.set("keys", keyRingOf(settings, c.get("db"), c.env[bindings.signingKeys] as string | undefined));
    c.set("secret", () => requireSecretKey(settings.SECRET_KEY));
    await next();
  });

  const o = app.basePath(basePath);
  // Each endpoint answers with and without the trailing slash, as DOT's URLs do.
  const both = (path: string) => [`${path}/`, path];

  for (const path of both("/token")) {
    o.use(path, clientCors());
    o.use(path, rateLimit("tokenRateLimit"));
    o.post(path, tokenEndpoint);
    o.all(path, methodNotAllowed("POST, OPTIONS"));
  }
  // RFC 9126: pushed authorization requests, authenticated and limited like the token endpoint.
  for (const path of both("/par")) {
    o.use(path, clientCors());
    o.use(path, rateLimit("tokenRateLimit"));
    o.post(path, parEndpoint);
    o.all(path, methodNotAllowed("POST, OPTIONS"));
  }
  for (const path of both("/revoke_token")) {
    o.use(path, clientCors());
    o.post(path, revokeEndpoint);
    o.all(path, methodNotAllowed("POST, OPTIONS"));
  }
  for (const path of both("/introspect")) {
    o.use(path, rateLimit("introspectRateLimit"));
    o.post(path, introspectEndpoint);
    o.all(path, methodNotAllowed("POST"));
  }
  // RFC 8628: the device asks here; its user enters the code on the verification page.
  for (const path of both("/device_authorization")) {
    o.use(path, rateLimit("tokenRateLimit"));
    o.post(path, deviceAuthorizationEndpoint);
    o.all(path, methodNotAllowed("POST"));
  }
  for (const path of both("/device")) {
    o.use(path, rateLimit("loginRateLimit", tooManyRequestsPage));
    o.get(path, deviceVerificationGet);
    o.post(path, deviceVerificationPost);
  }
  for (const path of both("/authorize")) {
    o.get(path, authorizeGet);
    o.post(path, authorizePost);
  }
  for (const path of both("/login")) {
    o.use(path, rateLimit("loginRateLimit", tooManyRequestsPage));
    o.get(path, loginGet);
    o.post(path, loginPost);
  }
  for (const path of both("/logout")) {
    o.get(path, logoutGet);
    o.post(path, logoutPost);
  }
  // OIDC Session Management: the iframe clients frame to watch the sign-in (404 when SESSION_MANAGEMENT is off).
  for (const path of both("/check_session")) o.get(path, checkSessionEndpoint);
  for (const path of both("/authorized_tokens")) o.get(path, authorizedTokensList);
  for (const path of both("/authorized_tokens/:clientId/delete")) {
    o.get(path, revokeAuthorizationGet);
    o.post(path, revokeAuthorizationPost);
  }
  // DOT's application pages for signed-in users (DOT's URLs end in a slash; both forms answer).
  for (const path of both("/applications")) o.get(path, applicationList);
  for (const path of both("/applications/register")) {
    o.get(path, applicationRegisterForm);
    o.post(path, applicationRegister);
  }
  for (const path of both("/applications/:clientId")) o.get(path, applicationDetail);
  for (const path of both("/applications/:clientId/update")) {
    o.get(path, applicationUpdateForm);
    o.post(path, applicationUpdate);
  }
  for (const path of both("/applications/:clientId/delete")) {
    o.get(path, applicationDeleteForm);
    o.post(path, applicationDelete);
  }
  for (const path of both("/applications/:clientId/rotate-secret")) o.post(path, applicationRotateSecret);
  // The operator console (404 unless OPERATOR_CONSOLE is on).
  const admin = (path: string) => both(`/admin${path}`);
  for (const path of admin("")) o.get(path, consoleHome);
  for (const path of admin("/events")) o.get(path, consoleEvents);
  for (const path of admin("/keys")) o.get(path, consoleKeys);
  for (const path of admin("/keys/add")) o.post(path, consoleKeyAdd);
  for (const path of admin("/keys/:kid/promote")) o.post(path, consoleKeyPromote);
  for (const path of admin("/keys/:kid/retire")) o.post(path, consoleKeyRetire);
  for (const path of admin("/clients")) o.get(path, consoleClients);
  for (const path of admin("/clients/new")) {
    o.get(path, consoleClientForm);
    o.post(path, consoleClientCreate);
  }
  for (const path of admin("/clients/:clientId")) o.get(path, consoleClient);
  for (const path of admin("/clients/:clientId/rotate-secret")) o.post(path, consoleClientRotateSecret);
  for (const path of admin("/clients/:clientId/revoke-tokens")) o.post(path, consoleClientRevokeTokens);
  for (const path of admin("/clients/:clientId/delete")) {
    o.get(path, consoleClientDeleteForm);
    o.post(path, consoleClientDelete);
  }
  for (const path of admin("/users")) o.get(path, consoleUsers);
  for (const path of admin("/users/new")) {
    o.get(path, consoleUserForm);
    o.post(path, consoleUserCreate);
  }
  for (const path of admin("/users/:userId")) o.get(path, consoleUser);
  for (const [action, handler] of [
    ["disable", consoleUserDisable],
    ["enable", consoleUserEnable],
    ["password", consoleUserPassword],
    ["signout", consoleUserSignOut],
  ] as const) {
    for (const path of admin(`/users/:userId/${action}`)) o.post(path, handler);
  }
  for (const path of both("/userinfo")) {
    o.use(path, clientCors("GET, POST, OPTIONS"));
    o.on(["GET", "POST"], path, userinfoEndpoint);
    o.all(path, methodNotAllowed("GET, POST, OPTIONS"));
  }
  for (const path of both("/register")) {
    o.use(path, registrationCors);
    o.use(path, rateLimit("registerRateLimit"));
    o.post(path, registerEndpoint);
    o.all(path, methodNotAllowed("POST, OPTIONS"));
  }
  // The registration_client_uri this server hands out (RFC 7592), so no trailing-slash twin.
  o.on(["GET", "PUT", "DELETE"], "/register/:clientId", clientConfigurationEndpoint);
  o.all("/register/:clientId", methodNotAllowed("GET, PUT, DELETE"));
  o.get("/.well-known/jwks.json", jwksEndpoint);
  o.get("/openapi.json", openapiEndpoint);
  o.get("/openapi", openapiReferencePage);
  o.get("/.well-known/openid-configuration", metadataEndpoint);
  o.get("/.well-known/oauth-authorization-server", metadataEndpoint);
  // RFC 8414 §3: metadata of an issuer with a path lives at /.well-known/oauth-authorization-server{path}.
  app.get(`/.well-known/oauth-authorization-server${basePath}`, metadataEndpoint);
  app.get(`/.well-known/openid-configuration${basePath}`, metadataEndpoint);
  return app;
}

/**
 * DOT's `cleartokens` for your Worker's Cron Trigger: removes expired refresh tokens, code
 * redemption records, sessions and sign-in counters in bounded batches, and logs what it removed;
 * then delivers the back-channel logout tokens still pending (failed earlier, or of sessions the
 * admin CLI ended). Give it the same `settings` and `bindings` as `createProvider`.
 *
 * @example
 * export default { fetch: app.fetch, scheduled: scheduledCleanup() };
 */
export function scheduledCleanup<E extends object = ProviderBindings>(
  options: Pick<ProviderOptions, "settings" | "bindings"> = {},
): ExportedHandlerScheduledHandler<E> {
  const bindings: BindingNames = { ...DEFAULT_BINDING_NAMES, ...options.bindings };
  const settingsFor = settingsOfEnv(bindings, options.settings);
  return (_controller, workerEnv, ctx) => {
    const env = workerEnv as ProviderBindings;
    const settings = settingsFor(env);
    const db = openDatabase(env[bindings.database] as D1Database);
    const cleared = clearExpired(db, settings).then(
      (report) => logInfo("cleartokens", { report }),
      (err: unknown) => logError("cleartokens failed", errorFields(err)),
    );
    const keys = keyRingOf(settings, db, env[bindings.signingKeys] as string | undefined);
    const delivered = cleared
      // One try per row each hour: the next run tries again.
      .then(() => deliverBackChannelLogouts({ settings, db, keys }, { delaysMs: [0] }))
      .then(
        (outcome) => logInfo("back-channel logouts", outcome),
        (err: unknown) => logError("back-channel logouts failed", errorFields(err)),
      );
    ctx.waitUntil(delivered);
  };
}
