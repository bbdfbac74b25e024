import { Hono, type Context } from "hono";
import { builtinAccounts, type AccountStore } from "./accounts";
import { openDatabase } from "./db/index";
import { clientCors } from "./middleware/client-cors";
import { errorBody, OAuthError } from "./oauth/errors";
import { authorizeGet, authorizePost } from "./routes/authorize";
import { jwksEndpoint } from "./routes/jwks";
import { loginGet, loginPost } from "./routes/login";
import { logoutGet, logoutPost } from "./routes/logout";
import { tokenEndpoint } from "./routes/token";
import { parseSettings, SettingsError, type Settings, type SettingsInput } from "./settings";
import { countingD1, countingKV, formatStorageCounts, newStorageCounts } from "./storage/counting";
import type { ProviderEnv } from "./types";
import { defaultPages, type PageRenderers } from "./views/render";

export interface ProviderOptions {
  /** Settings that take precedence over the Worker's vars. */
  settings?: Partial<SettingsInput>;
  /** Where the OAuth endpoints live; the issuer is the origin plus this path unless ISSUER is set. */
  basePath?: string;
  /** Replace how users sign in (default: the built-in users table). */
  accounts?: AccountStore;
  /** Replace any of the HTML pages (login, consent, error, logout, message). */
  pages?: Partial<PageRenderers>;
}

const settingsCache = new WeakMap<object, Settings>();

function settingsFor(env: object, overrides: Partial<SettingsInput> | undefined): Settings {
  let settings = settingsCache.get(env);
  if (!settings) {
    settings = parseSettings({ ...(env as Record<string, unknown>), ...overrides });
    settingsCache.set(env, settings);
  }
  return settings;
}

const methodNotAllowed = (allow: string) => () => {
  throw new OAuthError("invalid_request", `this endpoint accepts ${allow.replace(", OPTIONS", "")} only`, 405, { Allow: allow });
};

function renderError(err: Error, c: Context<ProviderEnv>): Response {
  if (err instanceof OAuthError) {
    return c.json(errorBody(err), err.status, { ...err.headers, "Cache-Control": "no-store" });
  }
  if (err instanceof SettingsError) {
    console.error(err.message);
    return c.json({ error: "server_error", error_description: `the server is misconfigured: ${err.message}` }, 500, {
      "Cache-Control": "no-store",
    });
  }
  console.error("unexpected error", err);
  return c.json({ error: "server_error", error_description: "the server could not complete the request" }, 500, {
    "Cache-Control": "no-store",
  });
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
  const app = new Hono<ProviderEnv>();
  app.onError(renderError);

  app.use("*", async (c, next) => {
    const settings = settingsFor(c.env, options.settings);
    const storage = newStorageCounts();
    const origin = new URL(c.req.url).origin;
    c.set("settings", settings);
    c.set("storage", storage);
    c.set("db", openDatabase(countingD1(c.env.DB, storage)));
    c.set("kv", countingKV(c.env.KV, storage));
    c.set("issuer", settings.ISSUER ?? `${origin}${basePath}`);
    c.set("audience", settings.ACCESS_TOKEN_AUDIENCE ?? origin);
    c.set("basePath", basePath);
    c.set("accounts", accounts);
    c.set("pages", pages);
    await next();
    if (settings.STORAGE_COUNT_HEADER) c.header("X-Storage-Ops", formatStorageCounts(storage));
  });

  const o = app.basePath(basePath);
  // Each endpoint answers with and without the trailing slash, as DOT's URLs do.
  const both = (path: string) => [`${path}/`, path];

  for (const path of both("/token")) {
    o.use(path, clientCors());
    o.post(path, tokenEndpoint);
    o.all(path, methodNotAllowed("POST, OPTIONS"));
  }
  for (const path of both("/authorize")) {
    o.get(path, authorizeGet);
    o.post(path, authorizePost);
  }
  for (const path of both("/login")) {
    o.get(path, loginGet);
    o.post(path, loginPost);
  }
  for (const path of both("/logout")) {
    o.get(path, logoutGet);
    o.post(path, logoutPost);
  }
  o.get("/.well-known/jwks.json", jwksEndpoint);
  return app;
}
