import type { AccountStore } from "./session/accounts";
import type { Database } from "./db/index";
import type { ProviderEvent } from "./core/events";
import type { Settings } from "./core/settings";
import type { StorageCounts } from "./core/storage-counting";
import type { KeyRing } from "./tokens/keys";
import type { PageRenderers } from "./views/render";

/** The bindings and secrets the provider reads from its Worker's `env`. */
export interface Env {
  DB: D1Database;
  KV: KVNamespace;
  /** JWK set of private signing keys (a Worker secret; `.dev.vars` locally). */
  SIGNING_KEYS?: string;
  /** Optional Workers Rate Limiting bindings: per-address limits on the token, login and introspection endpoints. */
  TOKEN_RATE_LIMIT?: RateLimit;
  LOGIN_RATE_LIMIT?: RateLimit;
  INTROSPECT_RATE_LIMIT?: RateLimit;
  [setting: string]: unknown;
}

/** Hono context variables the provider sets for its routes. */
export interface ProviderVariables {
  settings: Settings;
  db: Database;
  kv: KVNamespace;
  storage: StorageCounts;
  /** The D1 binding, counted. */
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
  /** Set once a route has authenticated the client: the origins it registered for CORS. */
  clientOrigins?: string[];
}

export type ProviderEnv = { Bindings: Env; Variables: ProviderVariables };

/**
 * The one server context below the routes (authorization, grants, OIDC): what a request knows of
 * the provider. Routes pass their `c.var`, which has all of it.
 */
export type ServerContext = Pick<ProviderVariables, "settings" | "db" | "kv" | "issuer" | "audience" | "accounts" | "emit" | "keys" | "secret">;
