import type { Context } from "hono";
import { findAccountCached } from "../session/accounts";
import { hashSecret } from "../core/crypto";
import { findClientCached } from "../db/clients";
import { findRefreshToken, refreshTokenState } from "../db/refresh-tokens";
import type { Client } from "../db/schema";
import { authenticateClient } from "../oauth/client-auth";
import { invalidClient } from "../oauth/errors";
import { bearerError, bearerToken, usesBearerScheme } from "../oauth/bearer";
import { readFormBody, type Params } from "../oauth/form";
import { subjectFor } from "../tokens/subject";
import { areRevoked, isRevoked, withUserId } from "../tokens/revocation";
import { userIdOf } from "../tokens/user-tokens";
import { looksLikeJwt, verifyAccessToken, type AccessTokenClaims } from "../tokens/verify";
import { clientAssertionContext } from "../tokens/client-secret";
import type { ProviderEnv } from "../types";
import { endpointAddresses } from "./discovery";
import { nowSeconds } from "../core/time";

type Ctx = Context<ProviderEnv>;

const INACTIVE = { active: false } as const;

/** Who asks: a resource server with its own access token, or an authenticated confidential client. */
type Caller = { bearer: AccessTokenClaims } | { client: Client };

const callerTokenError = (description: string) => bearerError("introspection", 401, "invalid_token", description);

/** A resource server calling with its own access token: it needs the `introspection` scope (as in DOT). */
async function bearerCaller(c: Ctx, header: string): Promise<AccessTokenClaims> {
  const token = bearerToken(header);
  if (!token) throw callerTokenError("the Authorization header is not a valid Bearer token");
  // The caller's token must be for this server, not for some resource (RFC 8707).
  const result = await verifyAccessToken(token, { keys: await c.get("keys")(), issuer: c.get("issuer"), audience: c.get("audience") });
  if (!result.active) throw callerTokenError("the caller's access token is not valid");
  // RFC 9449 §7.2: a DPoP-bound token is not accepted as Bearer (introspection takes no DPoP proofs; authenticate as the client).
  if (result.claims.cnf !== undefined) throw callerTokenError("the caller's access token is DPoP-bound and cannot be used as a Bearer token");
  if (!result.claims.scope.split(" ").includes("introspection")) {
    throw bearerError("introspection", 403, "insufficient_scope", "the caller's token lacks the introspection scope", { scope: "introspection" });
  }
  return result.claims;
}

const audiences = (aud: string | string[] | undefined) => (aud === undefined ? [] : Array.isArray(aud) ? aud : [aud]);

/**
 * RFC 7662 §4: a token's details go only to its own client, a client registered with the
 * `introspection` scope, or a resource server its audience names (a client whose id is in `aud`).
 * Bearer callers already proved the `introspection` scope.
 */
export function mayIntrospect(caller: Caller, token: { clientId: string; aud?: string | string[] }): boolean {
  if ("bearer" in caller) return true;
  const { client } = caller;
  return (
    token.clientId === client.id ||
    client.scope.split(" ").includes("introspection") ||
    audiences(token.aud).includes(client.id)
  );
}

/** OIDC Core §8.1: a pairwise client's tokens never reveal the user's id or username. */
const hidesUser = (client: Client, claims?: AccessTokenClaims) => client.subjectType === "pairwise" || claims?.usr !== undefined;

async function introspectAccessToken(c: Ctx, token: string, caller: Caller) {
  const result = await verifyAccessToken(token, { keys: await c.get("keys")(), issuer: c.get("issuer") });
  if (!result.active) return INACTIVE;
  const claims = result.claims;
  if (!mayIntrospect(caller, { clientId: claims.client_id, aud: claims.aud })) return INACTIVE;
  const settings = c.get("settings");
  // A user's token has a grant id (client_credentials tokens do not).
  const userId = claims.gid ? await userIdOf(claims, settings.SECRET_KEY) : undefined;
  if (claims.gid && !userId) return INACTIVE;
  // One KV read covers the token (its user's note too) and, for Bearer callers, the caller's own token.
  const callerClaims = "bearer" in caller ? [await withUserId(caller.bearer, settings.SECRET_KEY)] : [];
  const [revoked, callerRevoked] = await areRevoked(c.get("kv"), [{ ...claims, userId }, ...callerClaims]);
  if (callerRevoked) throw callerTokenError("the caller's access token has been revoked");
  if (revoked) return INACTIVE;
  // The token's client and user must still exist (cached per isolate: no query when warm).
  const [client, account] = await Promise.all([
    findClientCached(c.get("db"), claims.client_id, settings.CLIENT_CACHE_SECONDS),
    userId ? findAccountCached(c.get("accounts"), c.get("db"), userId, settings.CLIENT_CACHE_SECONDS) : undefined,
  ]);
  if (!client || account === null) return INACTIVE;
  const username = account && !hidesUser(client, claims) ? account.username : undefined;
  return {
    active: true,
    scope: claims.scope,
    client_id: claims.client_id,
    ...(username !== undefined ? { username } : {}),
    // RFC 9449 §6.2: a DPoP-bound token says so, with its key's thumbprint; the resource server checks the proof.
    token_type: claims.cnf !== undefined ? "DPoP" : "Bearer",
    ...(claims.cnf !== undefined ? { cnf: claims.cnf } : {}),
    exp: claims.exp,
    iat: claims.iat,
    ...(claims.nbf !== undefined ? { nbf: claims.nbf } : {}),
    // Already the pairwise subject for pairwise clients (userAccessToken).
    sub: claims.sub,
    aud: claims.aud,
    iss: claims.iss,
    jti: claims.jti,
  };
}

async function introspectRefreshToken(c: Ctx, token: string, caller: Caller) {
  const row = await findRefreshToken(c.get("db"), await hashSecret(token));
  const now = nowSeconds();
  const settings = c.get("settings");
  if (!row || refreshTokenState(row, now, settings.REFRESH_TOKEN_GRACE_PERIOD_SECONDS) !== "usable") return INACTIVE;
  if (!mayIntrospect(caller, { clientId: row.clientId })) return INACTIVE;
  const [client, account] = await Promise.all([
    findClientCached(c.get("db"), row.clientId, settings.CLIENT_CACHE_SECONDS),
    c.get("accounts").findById(c.get("db"), row.userId),
  ]);
  if (!client || !account) return INACTIVE;
  return {
    active: true,
    scope: row.scope,
    client_id: row.clientId,
    ...(hidesUser(client) ? {} : { username: account.username }),
    token_type: "refresh_token",
    exp: row.expiresAt,
    iat: row.createdAt,
    sub: await subjectFor(client, row.userId, settings.SECRET_KEY),
    iss: c.get("issuer"),
  };
}

async function authenticateCaller(c: Ctx, params: Params): Promise<Caller> {
  const authorization = c.req.header("authorization");
  if (usesBearerScheme(authorization)) return { bearer: await bearerCaller(c, authorization) };
  const endpoints = endpointAddresses(c.get("endpointBase"));
  const assertion = clientAssertionContext(c.var, { token: endpoints.token_endpoint, here: endpoints.introspection_endpoint });
  const { client } = await authenticateClient(c.get("db"), c.get("settings"), authorization, params, assertion);
  if (client.clientType !== "confidential") {
    throw invalidClient("public clients cannot use the introspection endpoint");
  }
  c.set("clientOrigins", client.allowedOrigins);
  return { client };
}

/**
 * `POST /o/introspect/` (RFC 7662). The caller is a confidential client (Basic or post) or
 * holds a Bearer token with the `introspection` scope. Anything not active, including tokens of
 * other issuers and tokens the caller may not see (`mayIntrospect`), is exactly
 * `{"active": false}`. An access token costs no D1 query and one KV read on a warm isolate.
 */
export async function introspectEndpoint(c: Ctx): Promise<Response> {
  const params: Params = await readFormBody(c.req.raw, c.get("settings").MAX_BODY_BYTES);
  const caller = await authenticateCaller(c, params);
  const token = params.require("token");
  let body;
  if (looksLikeJwt(token)) {
    body = await introspectAccessToken(c, token, caller);
  } else {
    if ("bearer" in caller && (await isRevoked(c.get("kv"), await withUserId(caller.bearer, c.get("settings").SECRET_KEY)))) {
      throw callerTokenError("the caller's access token has been revoked");
    }
    body = await introspectRefreshToken(c, token, caller);
  }
  return c.json(body, 200, { "Cache-Control": "no-store", Pragma: "no-cache" });
}
