import type { Context, MiddlewareHandler } from "hono";
import { createRemoteJWKSet, customFetch, type JWTVerifyGetKey } from "jose";
import { bearerError, bearerToken, tokenRequired, usesBearerScheme, type BearerErrorCode } from "../oauth/bearer";
import { errorBody, OAuthError, serverError } from "../oauth/errors";
import { checkDpopProof, dpopChallenge, dpopHeader, DpopError, dpopNonce, dpopToken, DPOP_NONCE_SECONDS, SeenProofs, usesDpopScheme } from "../oauth/dpop";
import { nowSeconds } from "../core/time";
import { SettingsError } from "../core/settings";
import { loadKeyRing } from "../tokens/keys";
import { databaseKeyRing } from "../tokens/database-keys";
import { requireSecretKey } from "../tokens/secret-keys";
import { openDatabase, type Database } from "../db/index";
import { verifyAccessToken, type AccessTokenClaims } from "../tokens/verify";
import { logError } from "../core/log";
import { requestOrigin } from "../core/request-origin";
import { resourceMetadataUrl } from "../oauth/resource";
import type { BindingNames } from "../types";
import { issuerFor, resourceChecker, valueFor, type IssuerOptions, type PerRequest } from "./protected-resource";

export interface RequireTokenOptions extends IssuerOptions {
  /** Every one of these scopes is required. */
  scopes?: string[];
  /** At least one of these scopes is required. */
  anyScopes?: string[];
  /**
   * This API's resource identifier (RFC 8707, RFC 9728): a URL such as an MCP server's
   * `https://mcp.example.com/mcp`, or a function of the request giving it. Tokens must name it in
   * `aud` (clients ask for it with the `resource` parameter), and every challenge carries
   * `resource_metadata`, the URL of its metadata (serve it with `protectedResourceMetadata`).
   */
  resource?: PerRequest<string>;
  /**
   * The audience tokens must carry. Default: the `ACCESS_TOKEN_AUDIENCE` var, or this Worker's
   * origin; with `resource`, none besides it. Given with `resource`, a token naming either is
   * accepted (tokens issued before clients named the resource, say).
   */
  audience?: PerRequest<string | string[]>;
  /**
   * In a separate Worker: the provider's JWKS URL (fetched and cached per isolate), or a function
   * of the Worker's env giving it, e.g. `(env) => \`${env.ISSUER}/.well-known/jwks.json\``.
   */
  jwksUrl?: string | ((env: Env) => string);
  /** In a separate Worker with a service binding to the provider: the binding's name (used to fetch `jwksUrl`). */
  service?: string;
  /**
   * The KV binding holding revocation notes (shared with the provider). Default `"KV"`. A missing
   * binding is a configuration error (500 to callers, details logged), never a silent pass;
   * `false` turns the revocation check off explicitly.
   */
  revocation?: string | false;
  /**
   * In the provider's own Worker: the binding names given to `createProvider({ bindings })`, for
   * the KV namespace (unless `revocation` names it), the signing keys and the secret key.
   */
  bindings?: Partial<Pick<BindingNames, "kv" | "signingKeys" | "secretKey" | "database">>;
  /**
   * In the provider's own Worker with DATABASE_SIGNING_KEYS: verify with the database keys too.
   * Default: the provider's settings when it ran before on this request, else the
   * `DATABASE_SIGNING_KEYS` var. Ignored with `jwksUrl` (the JWKS has every key).
   */
  databaseKeys?: boolean;
  /** `realm` of the `WWW-Authenticate` challenge. */
  realm?: string;
  /**
   * DPoP (RFC 9449): `"allowed"` (default) accepts Bearer tokens and DPoP-bound tokens with their
   * proofs; `"required"` refuses Bearer presentations. A DPoP-bound token is never accepted as Bearer.
   */
  dpop?: "allowed" | "required";
  /**
   * How far a DPoP proof's `iat` may be from now, either way. Default: the provider's
   * DPOP_PROOF_WINDOW_SECONDS when it ran before on this request, else 60 s.
   */
  dpopWindowSeconds?: PerRequest<number>;
  /**
   * RFC 9449 §9: DPoP proofs must carry a server nonce, given in `DPoP-Nonce` with a
   * `use_dpop_nonce` challenge. Stateless (an HMAC of a 300 s time bucket under the secret key
   * binding, as the provider's DPOP_NONCE), so the provider's nonces are accepted here too.
   * Default: the provider's DPOP_NONCE when it ran before on this request, else off.
   */
  dpopNonce?: PerRequest<boolean>;
}

/** The audiences a token may name here (see `RequireTokenOptions.audience`). */
function acceptedAudiences(c: Context, options: RequireTokenOptions, resource: string | undefined): string | string[] {
  const given = options.audience === undefined ? undefined : valueFor(options.audience, c);
  if (resource !== undefined) return given === undefined ? resource : [resource, ...[given].flat()];
  const env = (c.env ?? {}) as Env;
  return given ?? (env.ACCESS_TOKEN_AUDIENCE as string | undefined) ?? requestOrigin(c.req.url).origin;
}

export type RequireTokenVariables = { accessToken: AccessTokenClaims };

/**
 * DPoP proof ids this isolate has seen: a replay inside the `iat` window that reaches this isolate
 * is refused without a storage round-trip; one that reaches another isolate within the window is
 * not (RFC 9449 §11.1 lets the window bound replays; docs/consistency.md).
 */
const seenProofs = new SeenProofs();

type Env = Record<string, unknown>;

/**
 * A resource server that cannot check tokens as configured answers 500 server_error, with no
 * setting or binding named to the caller; the operator reads why in the log.
 */
/** A middleware renders its own errors: it may run outside the provider (and its onError). */
function send(c: Context, err: OAuthError): Response {
  return c.json(errorBody(err), err.status, { ...err.headers, "Cache-Control": "no-store" });
}

function misconfigured(c: Context, detail: string): Response {
  logError("requireToken is misconfigured", { detail });
  return send(c, serverError("the server is misconfigured"));
}

const databases = new WeakMap<D1Database, Database>();

/**
 * Whether the provider's keys include database keys: its settings when the provider ran before
 * (same Worker, same app), else the `DATABASE_SIGNING_KEYS` var.
 */
function usesDatabaseKeys(c: Context, env: Env): boolean {
  const settings = c.get("settings") as { DATABASE_SIGNING_KEYS?: boolean } | undefined;
  if (settings?.DATABASE_SIGNING_KEYS !== undefined) return settings.DATABASE_SIGNING_KEYS;
  const value = env.DATABASE_SIGNING_KEYS;
  return value === true || value === "true" || value === "1" || value === "yes";
}

/** The provider's DPoP settings when it ran before on this request (same Worker, same app): requireToken's defaults. */
function providerDpopSettings(c: Context): { DPOP_NONCE?: boolean; DPOP_PROOF_WINDOW_SECONDS?: number } {
  return (c.get("settings") as { DPOP_NONCE?: boolean; DPOP_PROOF_WINDOW_SECONDS?: number } | undefined) ?? {};
}

/** The KV namespace of revocation notes; countStorage, when it runs before, puts a counting view of KV on the context. */
function revocationNotes(c: Context, env: Env, binding: string): KVNamespace | undefined {
  const counted = binding === "KV" ? (c.get("kv") as KVNamespace | undefined) : undefined;
  return counted ?? (env[binding] as KVNamespace | undefined);
}

/**
 * Protects routes of a resource server with access tokens from this provider (RFC 6750): verifies
 * the JWT locally (issuer, audience or `resource`), checks revocation (one KV read), checks
 * scopes, and puts the claims on the context as `accessToken`. DPoP-bound tokens (RFC 9449) come
 * as `Authorization: DPoP <token>` with a `DPoP` proof of the bound key for this request.
 *
 * @example
 * app.get("/api/me", requireToken({ scopes: ["read"] }), (c) => c.json({ sub: c.get("accessToken").sub }));
 * app.all("/mcp", requireToken({ resource: (c) => `${new URL(c.req.url).origin}/mcp`, scopes: ["mcp"] }), handler);
 */
export function requireToken(options: RequireTokenOptions = {}): MiddlewareHandler<{ Variables: RequireTokenVariables }> {
  const realm = options.realm ?? "api";
  const required = options.scopes ?? [];
  // A 401 names the scopes a token needs (RFC 6750 §3), so a client given only this URL asks for the right ones.
  const neededScope: Record<string, string> = required.length > 0 ? { scope: required.join(" ") } : {};
  const anyOf = options.anyScopes ?? [];
  const kvBinding = options.revocation ?? options.bindings?.kv ?? "KV";
  const signingKeysBinding = options.bindings?.signingKeys ?? "SIGNING_KEYS";
  const secretKeyBinding = options.bindings?.secretKey ?? "SECRET_KEY";
  const checkResource = resourceChecker();
  if (typeof options.resource === "string") checkResource(options.resource);
  let remoteKeys: JWTVerifyGetKey | undefined;

  const databaseBinding = options.bindings?.database ?? "DB";
  const dpopRequired = options.dpop === "required";
  const dpopWindowFor = (c: Context) =>
    options.dpopWindowSeconds === undefined ? (providerDpopSettings(c).DPOP_PROOF_WINDOW_SECONDS ?? 60) : valueFor(options.dpopWindowSeconds, c);
  const dpopNonceFor = (c: Context) => (options.dpopNonce === undefined ? (providerDpopSettings(c).DPOP_NONCE ?? false) : valueFor(options.dpopNonce, c));

  const keysFor = async (c: Context, env: Env): Promise<Parameters<typeof verifyAccessToken>[1]["keys"]> => {
    if (!options.jwksUrl && (options.databaseKeys ?? usesDatabaseKeys(c, env))) {
      // The provider's own Worker with DATABASE_SIGNING_KEYS: the same ring (secret + D1 keys) the provider signs with.
      const d1 = (c.get("d1") as D1Database | undefined) ?? (env[databaseBinding] as D1Database | undefined);
      if (!d1) throw new SettingsError(`DATABASE_SIGNING_KEYS is on but no D1 binding "${databaseBinding}" holds the keys`);
      let db = databases.get(d1);
      if (!db) databases.set(d1, (db = openDatabase(d1)));
      return databaseKeyRing(db, env[signingKeysBinding] as string | undefined, requireSecretKey(env[secretKeyBinding] as string | undefined));
    }
    if (!options.jwksUrl) return loadKeyRing(env[signingKeysBinding] as string | undefined);
    if (!remoteKeys) {
      const service = options.service ? (env[options.service] as Fetcher | undefined) : undefined;
      const url = typeof options.jwksUrl === "function" ? options.jwksUrl(env) : options.jwksUrl;
      remoteKeys = createRemoteJWKSet(new URL(url), {
        cacheMaxAge: 10 * 60 * 1000,
        cooldownDuration: 30 * 1000,
        ...(service ? { [customFetch]: (url: string, init: RequestInit) => service.fetch(url, init) } : {}),
      });
    }
    return remoteKeys;
  };

  return async (c, next) => {
    const env = (c.env ?? {}) as Env;
    const kv = kvBinding ? revocationNotes(c, env, kvBinding) : undefined;
    if (kvBinding && !kv) {
      return misconfigured(c, `no KV binding "${kvBinding}" holds the revocation notes: bind the provider's KV namespace, or pass revocation: false to skip the revocation check`);
    }
    let resource: string | undefined;
    try {
      resource = options.resource === undefined ? undefined : checkResource(valueFor(options.resource, c));
    } catch (err) {
      if (err instanceof SettingsError) return misconfigured(c, err.message);
      throw err;
    }
    // RFC 9728 §5.1: every challenge says where the resource's metadata is.
    const challenge = (fields: Record<string, string> = {}) =>
      resource === undefined ? fields : { ...fields, resource_metadata: resourceMetadataUrl(resource) };
    const fail = (status: 400 | 401 | 403, error: BearerErrorCode, description: string, extra?: Record<string, string>) =>
      send(c, bearerError(realm, status, error, description, challenge(extra)));

    if (c.req.query("access_token") !== undefined) {
      return fail(400, "invalid_request", "access tokens are not accepted in the query string; use the Authorization header");
    }
    // RFC 9449 §7.1: DPoP errors are answered with a DPoP challenge naming the accepted algorithms.
    const dpopFail = (error: "invalid_token" | "invalid_dpop_proof" | "invalid_request" | "use_dpop_nonce", description: string, nonce?: string) =>
      send(c, new OAuthError(error, description, error === "invalid_request" ? 400 : 401, {
        "WWW-Authenticate": dpopChallenge(realm, challenge({ error, error_description: description })),
        ...(nonce ? { "DPoP-Nonce": nonce } : {}),
      }));
    const header = c.req.header("authorization");
    // The Bearer path first: it costs what it did before DPoP.
    const bearerScheme = usesBearerScheme(header);
    const dpopScheme = !bearerScheme && usesDpopScheme(header);
    if (!bearerScheme && !dpopScheme) return send(c, tokenRequired(realm, challenge(neededScope)));
    if (!dpopScheme && dpopRequired) return dpopFail("invalid_token", "this resource accepts DPoP-bound access tokens only");
    const token = dpopScheme ? dpopToken(header) : bearerToken(header);
    if (!token) {
      if (dpopScheme) return dpopFail("invalid_request", "the Authorization header is not a valid DPoP token");
      return fail(400, "invalid_request", "the Authorization header is not a valid Bearer token");
    }

    let keys;
    try {
      keys = await keysFor(c, env);
    } catch (err) {
      if (err instanceof SettingsError) return misconfigured(c, err.message);
      throw err;
    }
    const result = await verifyAccessToken(token, {
      keys,
      issuer: issuerFor(c, options),
      audience: acceptedAudiences(c, options, resource),
      kv,
      // The provider's own Worker can open pairwise tokens' sealed user id, for the user's revocation note.
      secret: env[secretKeyBinding] as string | undefined,
    });
    if (!result.active) {
      const why = { malformed: "the access token is malformed", invalid: "the access token is invalid", expired: "the access token has expired", revoked: "the access token has been revoked" };
      return fail(401, "invalid_token", why[result.reason], neededScope);
    }
    const jkt = (result.claims.cnf as { jkt?: unknown } | undefined)?.jkt;
    if (dpopScheme) {
      // RFC 9449 §7.2: the DPoP scheme is for DPoP-bound tokens only.
      if (typeof jkt !== "string") return dpopFail("invalid_token", "the access token is not DPoP-bound: present it as a Bearer token");
      const nonced = dpopNonceFor(c);
      const dpopWindow = dpopWindowFor(c);
      const secret = nonced ? (env[secretKeyBinding] as string | undefined) : undefined;
      if (nonced && !secret) return misconfigured(c, `dpopNonce needs the secret key binding "${secretKeyBinding}"`);
      try {
        const value = dpopHeader(c.req.raw.headers);
        if (value === undefined) return dpopFail("invalid_dpop_proof", "a DPoP proof is required with a DPoP-bound access token");
        const proof = await checkDpopProof(value, {
          method: c.req.method,
          url: c.req.url,
          now: nowSeconds(),
          windowSeconds: dpopWindow,
          accessToken: token,
          nonce: secret ? { secret, lifetimeSeconds: DPOP_NONCE_SECONDS } : undefined,
        });
        if (proof.jkt !== jkt) return dpopFail("invalid_dpop_proof", "the DPoP proof's key is not the key the access token is bound to");
        if (!seenProofs.firstUse(proof, proof.iat + dpopWindow, nowSeconds())) return dpopFail("invalid_dpop_proof", "the DPoP proof was used already");
      } catch (err) {
        if (err instanceof DpopError) {
          if (err.code === "use_dpop_nonce") return dpopFail("use_dpop_nonce", err.description, await dpopNonce(secret!, DPOP_NONCE_SECONDS, nowSeconds()));
          return dpopFail("invalid_dpop_proof", err.description);
        }
        throw err;
      }
    } else if (jkt !== undefined) {
      // RFC 9449 §7.2: a DPoP-bound token presented as Bearer is refused (no downgrade).
      return dpopFail("invalid_token", "the access token is DPoP-bound: present it with the DPoP scheme and a proof");
    }
    const granted = result.claims.scope.split(" ");
    const missing = required.filter((s) => !granted.includes(s));
    const noneOf = anyOf.length > 0 && !anyOf.some((s) => granted.includes(s));
    if (missing.length > 0 || noneOf) {
      const needed = missing.length > 0 ? required : anyOf;
      return fail(403, "insufficient_scope", `this resource needs the scope ${needed.join(missing.length > 0 ? " and " : " or ")}`, {
        scope: needed.join(" "),
      });
    }
    c.set("accessToken", result.claims);
    await next();
  };
}
