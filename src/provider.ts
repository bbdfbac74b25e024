import { Hono, type Context } from "hono";
import { openDatabase } from "./db/index";
import { errorBody, OAuthError } from "./oauth/errors";
import { jwksEndpoint } from "./routes/jwks";
import { tokenEndpoint } from "./routes/token";
import { parseSettings, SettingsError, type Settings, type SettingsInput } from "./settings";
import { countingD1, countingKV, formatStorageCounts, newStorageCounts } from "./storage/counting";
import type { ProviderEnv } from "./types";

export interface ProviderOptions {
  /** Settings that take precedence over the Worker's vars. */
  settings?: Partial<SettingsInput>;
  /** Where the OAuth endpoints live; the issuer is the origin plus this path unless ISSUER is set. */
  basePath?: string;
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
    await next();
    if (settings.STORAGE_COUNT_HEADER) c.header("X-Storage-Ops", formatStorageCounts(storage));
  });

  const o = app.basePath(basePath);
  for (const path of ["/token/", "/token"]) {
    o.post(path, tokenEndpoint);
    o.all(path, methodNotAllowed("POST, OPTIONS"));
  }
  o.get("/.well-known/jwks.json", jwksEndpoint);
  return app;
}
