import { ACCESS_TOKEN_TYPE } from "../core/protocol";
import { nowSeconds } from "../core/time";
import { findClientCached } from "../db/clients";
import type { Client } from "../db/schema";
import { invalidGrant, invalidRequest, invalidScope, unauthorizedClient } from "../oauth/errors";
import type { Params } from "../oauth/form";
import { audienceOf, liesUnder, parseResources, resolveResources } from "../oauth/resource";
import { grantableScopes, parseScope } from "../oauth/scope";
import { findAccountCached } from "../session/accounts";
import { issueAccessToken } from "../tokens/access-token";
import { userIdOf } from "../tokens/user-tokens";
import { verifyAccessToken, type AccessTokenClaims } from "../tokens/verify";
import type { Grant, GrantContext } from "./types";

/**
 * Token Exchange (RFC 8693), impersonation only: a resource server (a confidential client an
 * operator registered with this grant and the `resources` it serves) trades a user's access token
 * it received for a narrower one for a downstream API. The rules, in the order they are checked:
 *
 * 1. `requested_token_type`, when given, is the access token type; `actor_token` (delegation) is
 *    not supported; `subject_token` and its type are required, and the type is the access token
 *    type (`invalid_request` for each, RFC 8693 §2.2.2).
 * 2. `resource` and `audience` (both RFC 8693 §2.1; here both are resource URIs, RFC 8707) name the
 *    new token's audience: known to the server and allowed for the client, else `invalid_target`.
 * 3. The subject token is one of our RFC 9068 access tokens, for a user, not revoked, its user and
 *    client still there, and not itself an exchanged token (else `invalid_grant`).
 * 4. Its `aud` names an API the exchanging client serves: a value lying under one of the client's
 *    registered `resources` (`invalid_grant` otherwise), so a client cannot trade tokens meant for
 *    another client's API.
 * 5. `scope` may narrow the subject token's scope, never widen it, and must be allowed for the
 *    client (`invalid_scope`); by default the subject token's scope, limited to what the client may have.
 *
 * The new token keeps the subject token's `sub` (and a pairwise token's sealed `usr`), `gid` and
 * `auth_time`; its `client_id` is the exchanging client and `origin_client_id` the subject token's
 * client, so the grant, user and both clients' revocation notes cover it. It never outlives the
 * subject token. No refresh token.
 */

/** Step 1: the parameters whose mere presence or value decides the answer. */
function checkParameters(params: Params): string {
  const requested = params.get("requested_token_type");
  if (requested !== undefined && requested !== ACCESS_TOKEN_TYPE) {
    throw invalidRequest("requested_token_type must be urn:ietf:params:oauth:token-type:access_token, the only type issued here");
  }
  if (params.has("actor_token") || params.has("actor_token_type")) {
    throw invalidRequest("actor_token is not supported: this server performs impersonation only, not delegation");
  }
  const subjectToken = params.require("subject_token");
  const type = params.require("subject_token_type");
  if (type !== ACCESS_TOKEN_TYPE) {
    throw invalidRequest("subject_token_type is not supported: only urn:ietf:params:oauth:token-type:access_token is accepted");
  }
  return subjectToken;
}

const audiences = (aud: string | string[]) => (Array.isArray(aud) ? aud : [aud]);

/** Step 3: the subject token, verified, unrevoked (one KV read), for a user who and whose client still exist. */
async function verifySubjectToken(ctx: GrantContext, token: string): Promise<{ claims: AccessTokenClaims; userId: string }> {
  const { settings } = ctx;
  const result = await verifyAccessToken(token, {
    keys: await ctx.keys(),
    issuer: ctx.issuer,
    kv: ctx.kv,
    secret: settings.SECRET_KEY,
  });
  if (!result.active) {
    throw invalidGrant(result.reason === "revoked" ? "the subject token has been revoked" : result.reason === "expired" ? "the subject token has expired" : "the subject token is invalid");
  }
  const { claims } = result;
  if (!claims.gid) throw invalidGrant("the subject token must stand for a user; a client_credentials token cannot be exchanged");
  if (claims.origin_client_id !== undefined) throw invalidGrant("an exchanged token cannot be exchanged again");
  const userId = await userIdOf(claims, settings.SECRET_KEY);
  if (!userId) throw invalidGrant("the subject token is invalid");
  const [origin, account] = await Promise.all([
    findClientCached(ctx.db, claims.client_id, settings.CLIENT_CACHE_SECONDS),
    findAccountCached(ctx.accounts, ctx.db, userId, settings.CLIENT_CACHE_SECONDS),
  ]);
  if (!origin) throw invalidGrant("the subject token's client no longer exists");
  if (!account) throw invalidGrant("the subject token's user is disabled or no longer exists");
  return { claims, userId };
}

/**
 * Step 4: the subject token was issued for an API this client serves. A client with no registered
 * `resources` serves none (its empty list means "may ask for any" elsewhere, never "serves all").
 */
function checkAudience(client: Client, claims: AccessTokenClaims): void {
  const served = client.resources;
  if (!audiences(claims.aud).some((aud) => served.some((entry) => liesUnder(aud, entry)))) {
    throw invalidGrant("the subject token was not issued for a resource this client serves");
  }
}

/** Step 5: the requested scope within the subject token's and the client's, or their intersection. */
function exchangedScope(ctx: GrantContext, claims: AccessTokenClaims): string[] {
  const held = claims.scope.split(" ").filter(Boolean);
  const { allowed } = grantableScopes(ctx.client, ctx.settings);
  const requested = parseScope(ctx.params.get("scope"));
  if (requested === undefined) {
    const scope = held.filter((s) => allowed.includes(s));
    if (scope.length === 0) throw invalidScope("none of the subject token's scopes is allowed for this client");
    return scope;
  }
  if (requested.some((s) => !held.includes(s))) {
    throw invalidScope("a requested scope is not in the subject token; an exchange may narrow the scope, never widen it");
  }
  if (requested.some((s) => !allowed.includes(s))) throw invalidScope("a requested scope is not allowed for this client");
  return requested;
}

export const tokenExchangeGrant: Grant = async (ctx) => {
  const { client, params, settings } = ctx;
  if (client.clientType !== "confidential") {
    throw unauthorizedClient("only confidential clients may exchange tokens");
  }
  const subjectToken = checkParameters(params);
  // RFC 8693 §2.1: `audience` and `resource` both name where the token will be used; ours are URIs.
  const targets = parseResources([...params.getAll("resource"), ...params.getAll("audience")]);
  const resources = resolveResources(targets, { audience: ctx.audience, settings, client });

  const { claims, userId } = await verifySubjectToken(ctx, subjectToken);
  checkAudience(client, claims);
  const scope = exchangedScope(ctx, claims);

  // Never beyond the subject token: verification refused it once `exp` had passed, so at least 1 s remains.
  const lifetimeSeconds = Math.max(1, Math.min(settings.ACCESS_TOKEN_EXPIRE_SECONDS, claims.exp - nowSeconds()));
  const issued = await issueAccessToken(await ctx.keys(), settings.ACCESS_TOKEN_SIGNING_ALG, {
    issuer: ctx.issuer,
    // The user as the subject token named them: never more than the exchanging client already saw.
    subject: claims.sub,
    audience: audienceOf(resources),
    clientId: client.id,
    scope,
    lifetimeSeconds,
    claims: {
      gid: claims.gid,
      origin_client_id: claims.client_id,
      ...(claims.usr !== undefined ? { usr: claims.usr } : {}),
      ...(claims.auth_time !== undefined ? { auth_time: claims.auth_time } : {}),
      // RFC 9449 §6.1: bound to the DPoP proof's key.
      ...(ctx.dpop ? { cnf: { jkt: ctx.dpop.jkt } } : {}),
    },
  });
  ctx.emit({ type: "token.issued", grantType: "token_exchange", clientId: client.id, userId, scope: scope.join(" ") });
  // RFC 8693 §2.2.1: `issued_token_type` is required; no refresh token.
  return { access_token: issued.token, issued_token_type: ACCESS_TOKEN_TYPE, token_type: ctx.dpop ? "DPoP" : "Bearer", expires_in: issued.expiresIn, scope: scope.join(" ") };
};
