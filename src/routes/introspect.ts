import type { Context } from "hono";
import { findAccountCached } from "../accounts";
import { hashSecret } from "../crypto";
import { findClientCached } from "../db/clients";
import { findRefreshToken } from "../db/refresh-tokens";
import { authenticateClient } from "../oauth/client-auth";
import { invalidClient, OAuthError } from "../oauth/errors";
import { bearerChallenge, bearerToken, usesBearerScheme } from "../oauth/bearer";
import { readFormBody, type Params } from "../oauth/form";
import { loadKeyRing } from "../tokens/keys";
import { areRevoked, isRevoked } from "../tokens/revocation";
import { userIdOf } from "../tokens/user-tokens";
import { looksLikeJwt, verifyAccessToken, type AccessTokenClaims } from "../tokens/verify";
import type { ProviderEnv } from "../types";

type Ctx = Context<ProviderEnv>;

const INACTIVE = { active: false } as const;

/** A resource server calling with its own access token: it needs the `introspection` scope (as in DOT). */
async function bearerCaller(c: Ctx, header: string): Promise<AccessTokenClaims> {
  const fail = (description: string) =>
    new OAuthError("invalid_token", description, 401, {
      "WWW-Authenticate": bearerChallenge("introspection", { error: "invalid_token", error_description: description }),
    });
  const token = bearerToken(header);
  if (!token) throw fail("the Authorization header is not a valid Bearer token");
  const result = await verifyAccessToken(token, { keys: await loadKeyRing(c.env.SIGNING_KEYS), issuer: c.get("issuer") });
  if (!result.active) throw fail("the caller's access token is not valid");
  if (!result.claims.scope.split(" ").includes("introspection")) {
    throw new OAuthError("insufficient_scope", "the caller's token lacks the introspection scope", 403, {
      "WWW-Authenticate": bearerChallenge("introspection", { error: "insufficient_scope", scope: "introspection" }),
    });
  }
  return result.claims;
}

async function accountOf(c: Ctx, claims: AccessTokenClaims) {
  const settings = c.get("settings");
  const userId = await userIdOf(claims, settings.SECRET_KEY);
  return userId ? findAccountCached(c.get("accounts"), c.get("db"), userId, settings.CLIENT_CACHE_SECONDS) : null;
}

async function introspectAccessToken(c: Ctx, token: string, caller: AccessTokenClaims | undefined) {
  const result = await verifyAccessToken(token, { keys: await loadKeyRing(c.env.SIGNING_KEYS), issuer: c.get("issuer") });
  if (!result.active) return INACTIVE;
  const claims = result.claims;
  // One KV read covers the token and, for Bearer callers, the caller's own token.
  const [revoked, callerRevoked] = await areRevoked(c.get("kv"), caller ? [claims, caller] : [claims]);
  if (callerRevoked) throw new OAuthError("invalid_token", "the caller's access token has been revoked", 401);
  if (revoked) return INACTIVE;
  // The token's client and user must still exist (cached per isolate: no query when warm).
  const settings = c.get("settings");
  const [client, account] = await Promise.all([
    findClientCached(c.get("db"), claims.client_id, settings.CLIENT_CACHE_SECONDS),
    // A user's token has a grant id (client_credentials tokens do not): report the username.
    claims.gid ? accountOf(c, claims) : undefined,
  ]);
  if (!client || account === null) return INACTIVE;
  const username = account?.username;
  return {
    active: true,
    scope: claims.scope,
    client_id: claims.client_id,
    ...(username !== undefined ? { username } : {}),
    token_type: "Bearer",
    exp: claims.exp,
    iat: claims.iat,
    ...(claims.nbf !== undefined ? { nbf: claims.nbf } : {}),
    sub: claims.sub,
    aud: claims.aud,
    iss: claims.iss,
    jti: claims.jti,
  };
}

async function introspectRefreshToken(c: Ctx, token: string) {
  const row = await findRefreshToken(c.get("db"), await hashSecret(token));
  const now = Math.floor(Date.now() / 1000);
  if (!row || row.revokedAt !== null || row.expiresAt <= now) return INACTIVE;
  const grace = c.get("settings").REFRESH_TOKEN_GRACE_PERIOD_SECONDS;
  if (row.rotatedAt !== null && (grace === 0 || now - row.rotatedAt >= grace)) return INACTIVE;
  const account = await c.get("accounts").findById(c.get("db"), row.userId);
  if (!account) return INACTIVE;
  return {
    active: true,
    scope: row.scope,
    client_id: row.clientId,
    username: account.username,
    token_type: "refresh_token",
    exp: row.expiresAt,
    iat: row.createdAt,
    sub: row.userId,
    iss: c.get("issuer"),
  };
}

/**
 * `POST /o/introspect/` (RFC 7662). The caller is a confidential client (Basic or post) or
 * holds a Bearer token with the `introspection` scope. Anything not active, including tokens of
 * other issuers, is exactly `{"active": false}`. An access token costs no D1 query and one KV
 * read on a warm isolate.
 */
export async function introspectEndpoint(c: Ctx): Promise<Response> {
  const settings = c.get("settings");
  const params: Params = await readFormBody(c.req.raw, settings.MAX_BODY_BYTES);
  const authorization = c.req.header("authorization");
  let caller: AccessTokenClaims | undefined;
  if (usesBearerScheme(authorization)) {
    caller = await bearerCaller(c, authorization);
  } else {
    const { client } = await authenticateClient(c.get("db"), settings, authorization, params);
    if (client.clientType !== "confidential") {
      throw invalidClient("public clients cannot use the introspection endpoint", false);
    }
    c.set("clientOrigins", client.allowedOrigins);
  }
  const token = params.require("token");
  let body;
  if (looksLikeJwt(token)) {
    body = await introspectAccessToken(c, token, caller);
  } else {
    if (caller && (await isRevoked(c.get("kv"), caller))) {
      throw new OAuthError("invalid_token", "the caller's access token has been revoked", 401);
    }
    body = await introspectRefreshToken(c, token);
  }
  return c.json(body, 200, { "Cache-Control": "no-store", Pragma: "no-cache" });
}
