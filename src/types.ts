import type { AccountStore } from "./session/accounts";
import type { Database } from "./db/index";
import type { ProviderEvent } from "./core/events";
import type { Settings } from "./core/settings";
import type { StorageCounts } from "./core/storage-counting";
import type { KeyRing } from "./tokens/keys";
import type { PageRenderers } from "./views/render";

/**
 * Where the provider finds its bindings and secrets in the Worker's `env`: the names of the
 * `wrangler.toml` bindings and of the secrets. Each defaults to the name in brackets.
 */
export interface BindingNames {
  /** The D1 database [DB]. */
  database: string;
  /** The KV namespace of revocation notes [KV]. */
  kv: string;
  /** The secret holding the JWK set of private signing keys [SIGNING_KEYS]. */
  signingKeys: string;
  /** The secret of 32+ random characters for cookies, CSRF tokens and sealed codes [SECRET_KEY]. */
  secretKey: string;
  /** Optional Workers Rate Limiting bindings [TOKEN_RATE_LIMIT, LOGIN_RATE_LIMIT, INTROSPECT_RATE_LIMIT, REGISTER_RATE_LIMIT]. */
  tokenRateLimit: string;
  loginRateLimit: string;
  introspectRateLimit: string;
  registerRateLimit: string;
}

export const DEFAULT_BINDING_NAMES: BindingNames = {
  database: "DB",
  kv: "KV",
  signingKeys: "SIGNING_KEYS",
  secretKey: "SECRET_KEY",
  tokenRateLimit: "TOKEN_RATE_LIMIT",
  loginRateLimit: "LOGIN_RATE_LIMIT",
  introspectRateLimit: "INTROSPECT_RATE_LIMIT",
  registerRateLimit: "REGISTER_RATE_LIMIT",
};

/**
 * The provider's view of its Worker's `env`: bindings and secrets under the names of
 * `BindingNames`, and settings as vars (strings). Your Worker's `Env` (from `wrangler types`) fits it.
 */
export type ProviderBindings = Record<string, unknown>;

/** Hono context variables the provider sets for its routes. */
export interface ProviderVariables {
  settings: Settings;
  db: Database;
  kv: KVNamespace;
  /** The request's storage round-trips, counted only when X-Storage-Ops is asked for (STORAGE_COUNT_HEADER). */
  storage?: StorageCounts;
  /** The D1 binding (a counting view of it when X-Storage-Ops is asked for). */
  d1: D1Database;
  /** The issuer URL (`iss`), e.g. `https://auth.example.com/o`. */
  issuer: string;
  /** Where the endpoints are advertised: the issuer's origin plus the mount path. */
  endpointBase: string;
  /** Default audience of access tokens. */
  audience: string;
  /** Where the OAuth endpoints are mounted, e.g. `/o`. */
  basePath: string;
  accounts: AccountStore;
  pages: PageRenderers;
  /** Reports an event to the `events` hook of `createProvider`. */
  emit: (event: ProviderEvent) => void;
  /** The signing keys (SIGNING_KEYS), imported once per isolate on first use; a SettingsError when missing. */
  keys: () => Promise<KeyRing>;
  /** SECRET_KEY, or a SettingsError when it is missing. */
  secret: () => string;
  /** The names of the bindings and secrets in `env` (`createProvider({ bindings })`). */
  bindings: BindingNames;
  /** Set once a route has authenticated the client: the origins it registered for CORS. */
  clientOrigins?: string[];
}

/** The provider's Hono environment: `Hono<ProviderEnv>`, `Context<ProviderEnv>`. */
export type ProviderEnv = { Bindings: ProviderBindings; Variables: ProviderVariables };

/**
 * The one server context below the routes (authorization, grants, OIDC): what a request knows of
 * the provider. Routes pass their `c.var`, which has all of it.
 */
export type ServerContext = Pick<ProviderVariables, "settings" | "db" | "kv" | "issuer" | "audience" | "accounts" | "emit" | "keys" | "secret">;
