import { isUniqueViolation } from "../db/index";
import { hashSecret } from "../core/crypto";
import { UNKNOWN_ADDRESS } from "../core/client-address";
import { findCodeRedemption, insertCodeRedemption } from "../db/code-redemptions";
import type { Client } from "../db/schema";
import { insertRefreshToken } from "../db/refresh-tokens";
import { logoutPartyOf, recordSessionClientQuery } from "../db/session-clients";
import { invalidGrant } from "../oauth/errors";
import type { Params } from "../oauth/form";
import { checkCodeVerifier } from "../oauth/pkce";
import { narrowResources, parseResources } from "../oauth/resource";
import { openCode, type CodeGrant } from "../tokens/authorization-code";
import { signingKeyFor } from "../tokens/keys";
import { revokeGrant } from "../tokens/revocation";
import { issuesRefreshTokens, newRefreshToken, type UserGrant } from "../tokens/user-tokens";
import { userTokenResponse } from "./token-response";
import type { Grant, GrantContext } from "./types";
import { nowSeconds } from "../core/time";

const ALREADY_USED = "the authorization code has already been used; the tokens issued from it are revoked";

/** A code redeemed twice (RFC 6749 §4.1.2): the tokens issued from it are revoked and the event told. */
async function refuseReuse(ctx: GrantContext, grant: Pick<CodeGrant, "grantId" | "userId">): Promise<never> {
  await revokeGrant(ctx, grant.grantId, ctx.settings.ACCESS_TOKEN_EXPIRE_SECONDS);
  ctx.emit({
    type: "authorization_code.reused",
    clientId: ctx.client.id,
    userId: grant.userId,
    grantId: grant.grantId,
    clientAddress: ctx.clientAddress ?? UNKNOWN_ADDRESS,
  });
  throw invalidGrant(ALREADY_USED);
}

/** The code's bindings (RFC 6749 §4.1.3, RFC 7636 §4.6, RFC 9449 §10): the client, the redirect URI, the PKCE verifier, the DPoP key. */
async function checkCodeBindings(grant: CodeGrant, client: Client, params: Params, dpop: GrantContext["dpop"]): Promise<void> {
  if (grant.clientId !== client.id) throw invalidGrant("the authorization code was issued to another client");
  const redirectUri = params.get("redirect_uri");
  if (grant.redirectUriSent ? redirectUri !== grant.redirectUri : redirectUri !== undefined && redirectUri !== grant.redirectUri) {
    throw invalidGrant("redirect_uri does not match the one of the authorization request");
  }
  await checkCodeVerifier(params.get("code_verifier"), grant.codeChallenge, grant.codeChallengeMethod);
  if (grant.dpopJkt !== undefined && grant.dpopJkt !== dpop?.jkt) {
    throw invalidGrant("the authorization code is bound to another DPoP key (dpop_jkt)");
  }
}

/**
 * An expired code is refused; if it was redeemed before, this is a replay, and the tokens the
 * first redemption issued are revoked as for any reuse (RFC 6749 §4.1.2). Cleanup keeps the
 * redemption record while that grant could have live tokens. Costs one D1 read, off the hot path.
 */
async function refuseExpiredCode(ctx: GrantContext, code: string, grant: CodeGrant): Promise<never> {
  const redemption = await findCodeRedemption(ctx.db, await hashSecret(code));
  if (!redemption) throw invalidGrant("the authorization code is invalid or has expired");
  return refuseReuse(ctx, { grantId: redemption.grantId, userId: grant.userId });
}

/**
 * RFC 6749 §4.1.3 with PKCE (RFC 7636 §4.6). The code is sealed, so checking it needs no
 * storage; redeeming it is one D1 batch: the unique insert of its hash (single use, decided at
 * the primary) and the new refresh token. A second redemption revokes what the first issued,
 * also once the code has expired.
 */
export const authorizationCodeGrant: Grant = async (ctx) => {
  const { client, params, settings, db } = ctx;
  const code = params.require("code");
  const grant = await openCode(ctx.secret(), code);
  if (!grant) throw invalidGrant("the authorization code is invalid or has expired");
  await checkCodeBindings(grant, client, params, ctx.dpop);
  const now = nowSeconds();
  if (grant.expiresAt <= now) await refuseExpiredCode(ctx, code, grant);
  // RFC 8707 §2.2: the token may be for some of the authorized resources; checked before the code is spent.
  const granted = grant.resources ?? [ctx.audience];
  const resources = narrowResources(parseResources(params.getAll("resource")), granted);
  // Fail on a missing ID token key before the code is spent, so the client may retry once it is fixed.
  if (grant.scope.includes("openid")) signingKeyFor(await ctx.keys(), client.idTokenSignedResponseAlg);

  const userGrant: UserGrant = {
    grantId: grant.grantId,
    userId: grant.userId,
    scope: grant.scope,
    resources: granted,
    authTime: grant.authTime,
    nonce: grant.nonce,
    sid: grant.sid,
    claims: grant.claims,
  };
  const refresh = issuesRefreshTokens(client) ? await newRefreshToken(settings, client, userGrant, ctx.dpop) : undefined;
  const redemption = insertCodeRedemption(db, {
    codeHash: await hashSecret(code),
    grantId: grant.grantId,
    clientId: client.id,
    redeemedAt: now,
    expiresAt: grant.expiresAt,
  });
  // OIDC Back- and Front-Channel Logout: the session now has this relying party (same batch, no round-trip).
  const party = logoutPartyOf(client, userGrant, ctx.issuer, now);
  const alongside = [...(refresh ? [insertRefreshToken(db, refresh.row)] : []), ...(party ? [recordSessionClientQuery(db, party)] : [])];
  try {
    if (alongside.length > 0) await db.batch([redemption, ...alongside]);
    else await redemption.run();
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
    await refuseReuse(ctx, grant);
  }

  // The refresh token keeps every authorized resource; this access token is for the requested ones.
  return userTokenResponse(ctx, { ...userGrant, resources }, refresh?.token, { type: "token.issued", grantType: "authorization_code" });
};
