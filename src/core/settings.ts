import { en } from "zod/locales";
import * as z from "zod/mini";
import { SCOPE_TOKEN, SIGNING_ALGORITHMS } from "./protocol";

/**
 * The provider's settings: one typed object, the analogue of DOT's `OAUTH2_PROVIDER`.
 * The ready Worker reads them from wrangler vars (strings); `createProvider` also takes
 * them as typed options. Every value has a documented default (see README, "Settings").
 *
 * zod/mini rather than classic zod: the same engine and messages, but it tree-shakes, which took
 * the Worker's bundle from about 240 to about 135 KiB gzip (classic zod brings every locale).
 */

const seconds = (fallback: number) => z._default(z.coerce.number().check(z.int(), z.positive()), fallback);
const nonNegativeSeconds = (fallback: number) => z._default(z.coerce.number().check(z.int(), z.nonnegative()), fallback);

const booleanString = (fallback: boolean) =>
  z.pipe(
    z._default(z.union([z.boolean(), z.enum(["true", "false", "1", "0", "yes", "no"])]), fallback),
    z.transform((v) => v === true || v === "true" || v === "1" || v === "yes"),
  );

const scopesJson = z.pipe(
  z._default(z.union([z.string(), z.record(z.string(), z.string())]), { read: "Reading scope", write: "Writing scope" }),
  z.transform((value, ctx) => {
    if (typeof value !== "string") return value;
    try {
      return JSON.parse(value) as unknown;
    } catch {
      ctx.issues.push({ code: "custom", message: 'must be a JSON object such as {"read": "Reading scope"}', input: value });
      return z.NEVER;
    }
  }),
);
const scopesMap = z.pipe(
  scopesJson,
  z.record(z.string().check(z.regex(SCOPE_TOKEN, "scope names may not contain spaces, quotes or backslashes")), z.string()),
);

/** A list: space-separated in a wrangler var, or an array in code. */
const spaceList = (fallback: string) =>
  z.pipe(
    z._default(z.union([z.string(), z.array(z.string())]), fallback),
    z.transform((v) => (Array.isArray(v) ? v : v.split(/\s+/).filter(Boolean))),
  );

export const settingsSchema = z.object({
  /** Issuer URL; derived from the request (origin + base path) when empty, for ALLOWED_HOSTS only. */
  ISSUER: z.optional(z.url({ protocol: /^https?$/ })),
  /**
   * Hosts the provider answers for besides ISSUER's (Django's ALLOWED_HOSTS): `auth.example.com`,
   * `.example.com` (a domain and its subdomains), `*` (any). Other hosts get 400. With neither this
   * nor ISSUER set, only loopback hosts are answered (local development).
   */
  ALLOWED_HOSTS: z.pipe(
    z._default(z.union([z.string(), z.array(z.string())]), ""),
    z.transform((v) => (Array.isArray(v) ? v : v.split(/[\s,]+/).filter(Boolean))),
  ),
  ACCESS_TOKEN_EXPIRE_SECONDS: seconds(3600),
  AUTHORIZATION_CODE_EXPIRE_SECONDS: seconds(60),
  /** Lifetime of a device code and its user code (RFC 8628 `expires_in`). */
  DEVICE_CODE_EXPIRE_SECONDS: seconds(600),
  /** Lifetime of a pushed authorization request's `request_uri` (RFC 9126 `expires_in`). */
  PAR_EXPIRE_SECONDS: seconds(60),
  /** Every authorization request must be pushed first (RFC 9126 §5); clients may also require it for themselves. */
  REQUIRE_PUSHED_AUTHORIZATION_REQUESTS: booleanString(false),
  /** DPoP (RFC 9449 §11.1): how far a proof's `iat` may be from now, either way; a proof's `jti` is remembered this long. */
  DPOP_PROOF_WINDOW_SECONDS: seconds(60),
  /** DPoP server nonces (RFC 9449 §8): proofs at the token endpoint and UserInfo must carry a fresh `DPoP-Nonce` (stateless, 5 to 10 minutes). */
  DPOP_NONCE: booleanString(false),
  /** Lifetime of OpenID Connect ID tokens. */
  ID_TOKEN_EXPIRE_SECONDS: seconds(3600),
  REFRESH_TOKEN_EXPIRE_SECONDS: seconds(30 * 24 * 3600),
  REFRESH_TOKEN_GRACE_PERIOD_SECONDS: nonNegativeSeconds(0),
  ROTATE_REFRESH_TOKEN: booleanString(true),
  /** Revoking an access token also revokes the refresh tokens (and access tokens) of its grant. */
  REVOKE_REFRESH_TOKEN_WITH_ACCESS_TOKEN: booleanString(false),
  /** Signing out at the logout endpoint (RP-initiated) also revokes the user's refresh tokens of the client that asked. */
  REVOKE_TOKENS_ON_LOGOUT: booleanString(false),
  /** Scopes and their descriptions, as a JSON object. */
  SCOPES: scopesMap,
  /** Scopes granted when a request names none; `__all__` means every scope the client may have. */
  DEFAULT_SCOPES: spaceList("__all__"),
  /** Who must use PKCE: `public` clients only (OAuth 2.1 minimum) or `all` clients. */
  PKCE_REQUIRED: z._default(z.enum(["public", "all"]), "public"),
  /**
   * DOT's approval prompt: `force` shows the consent page on every authorization a page can be
   * shown for; `auto` skips it when the user already approved what is asked. Requests may pick
   * with `approval_prompt`.
   */
  REQUEST_APPROVAL_PROMPT: z._default(z.enum(["force", "auto"]), "force"),
  /** Allow the `plain` PKCE method (RFC 7636 permits it; RFC 9700 discourages it). */
  PKCE_ALLOW_PLAIN: booleanString(false),
  /** Algorithm of access tokens; a key of that type must be in SIGNING_KEYS. */
  ACCESS_TOKEN_SIGNING_ALG: z._default(z.enum(SIGNING_ALGORITHMS), "ES256"),
  /** `aud` of access tokens when the request names no resource; empty means the issuer's origin. */
  ACCESS_TOKEN_AUDIENCE: z.optional(z.string().check(z.minLength(1))),
  /** How long a client record is cached per isolate; secret rotation and deletion take effect within it. */
  CLIENT_CACHE_SECONDS: nonNegativeSeconds(30),
  /**
   * Server secret (a Worker secret) for session cookies, CSRF tokens, sealed authorization codes and
   * pairwise subjects. Changing it signs everyone out, voids codes in flight and changes pairwise `sub`s.
   */
  SECRET_KEY: z.optional(z.string().check(z.minLength(32, "must be at least 32 characters of random text"))),
  /** How long a sign-in lasts (Django's SESSION_COOKIE_AGE). */
  SESSION_COOKIE_AGE_SECONDS: seconds(14 * 24 * 3600),
  /**
   * OpenID Connect Session Management 1.0: the browser-state cookie, `session_state` in OpenID
   * authentication responses and the check-session iframe at `{basePath}/check_session/`. Off: none of them.
   */
  SESSION_MANAGEMENT: booleanString(true),
  /** Failed sign-ins for one username from one client address (login form and password grant) before that address is locked out of it. */
  LOGIN_MAX_FAILURES: seconds(5),
  /** Failed sign-ins for one username from all addresses together before it is locked everywhere. */
  LOGIN_MAX_FAILURES_PER_USERNAME: seconds(100),
  /** How long such a lock, and the window that counts attempts, lasts. */
  LOGIN_LOCKOUT_SECONDS: seconds(15 * 60),
  /** Largest accepted request body, in bytes. */
  MAX_BODY_BYTES: seconds(64 * 1024),
  /**
   * RFC 7591 dynamic client registration at `{basePath}/register/`: `off`, `open` (anyone may
   * register, as MCP clients expect), or `token` (an initial access token from the admin CLI is required).
   */
  DYNAMIC_REGISTRATION: z._default(z.enum(["off", "open", "token"]), "off"),
  /** Client ID metadata documents: a `client_id` that is an https URL is fetched and used as the client's metadata. */
  CLIENT_ID_METADATA_DOCUMENTS: booleanString(false),
  /** Development only: metadata documents may be on loopback and private addresses, over http (their redirect URIs follow the usual rules). */
  CLIENT_ID_METADATA_PRIVATE_HOSTS: booleanString(false),
  /**
   * Users may mark the applications they register on the application pages (`{basePath}/applications/`)
   * to skip the consent page (DOT's `skip_authorization`); off, the field is not shown and ignored.
   */
  APPLICATIONS_MAY_SKIP_CONSENT: booleanString(false),
  /**
   * The operator console at `{basePath}/admin/`: clients, users, signing keys and recent events,
   * for signed-in users with the operator role (`user create --operator`). Off: the console is 404.
   */
  OPERATOR_CONSOLE: booleanString(false),
  /**
   * Signing keys kept in D1 as well (sealed under SECRET_KEY), added, promoted and retired from the
   * operator console or `admin db-keys`; the `SIGNING_KEYS` secret's keys stay in the ring. Off:
   * keys come from the secret only and nothing reads D1 for them (docs/keys.md).
   */
  DATABASE_SIGNING_KEYS: booleanString(false),
  /** How recent an operator's sign-in must be to use the console; older ones sign in again first. */
  OPERATOR_REAUTH_SECONDS: seconds(15 * 60),
  /** How many days the recent events (sign-ins, lock-outs, client and user changes) are kept in D1; 0 records none. */
  EVENT_HISTORY_DAYS: nonNegativeSeconds(30),
  /**
   * RFC 8707 resources (APIs) tokens may be issued for, besides the default audience: absolute
   * URIs; a resource matches one of them or lies under it (same origin, path below it).
   */
  RESOURCES: spaceList(""),
  /** Adds an `X-Storage-Ops` header with the D1 and KV round-trips of each request (tests, benchmarks). */
  STORAGE_COUNT_HEADER: booleanString(false),
});

export type Settings = z.output<typeof settingsSchema>;
export type SettingsInput = z.input<typeof settingsSchema>;

export class SettingsError extends Error {
  override name = "SettingsError";
  /** The settings at fault, when known: what /healthz may name without values or reasons. */
  readonly settings: string[];
  constructor(message: string, settings: string[] = []) {
    super(message);
    this.settings = settings;
  }
}

/** zod/mini loads no locale (its messages would all read "Invalid input"); given per parse, not set globally for the whole Worker. */
const englishMessages = en().localeError;

/** Validates raw settings; an invalid one throws a message naming the variable and the problem. */
export function parseSettings(raw: Record<string, unknown>): Settings {
  const picked: Record<string, unknown> = {};
  for (const key of Object.keys(settingsSchema.shape)) {
    const value = raw[key];
    if (value !== undefined && value !== "") picked[key] = value;
  }
  const result = settingsSchema.safeParse(picked, { error: englishMessages });
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join(".") || "settings"}: ${issue.message}`);
    const names = result.error.issues.map((issue) => String(issue.path[0] ?? "settings"));
    throw new SettingsError(`Invalid setting ${problems.join("; ")}`, [...new Set(names)]);
  }
  return result.data;
}

/**
 * Settings parsed once per `env` (workerd hands every request of an isolate the same object).
 * Each reader has its own cache, since each may apply different overrides (`createProvider`).
 */
export function settingsReader(overrides: Record<string, unknown> = {}): (env: object) => Settings {
  const cache = new WeakMap<object, Settings>();
  return (env) => {
    let settings = cache.get(env);
    if (!settings) {
      settings = parseSettings({ ...(env as Record<string, unknown>), ...overrides });
      cache.set(env, settings);
    }
    return settings;
  };
}
