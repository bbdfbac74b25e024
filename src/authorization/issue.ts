import type { Account } from "../session/accounts";
import { idTokenForGrant } from "../oidc/grant-id-token";
import { sealCode } from "../tokens/authorization-code";
import { newGrantId, userAccessToken, type UserGrant } from "../tokens/user-tokens";
import type { ServerContext } from "../types";
import type { AuthorizationRequest } from "./request";
import { nowSeconds } from "../core/time";
import { logoutPartyOf, recordSessionClientQuery } from "../db/session-clients";

/**
 * The parameters of a successful authorization response: a sealed code, an access token
 * (implicit), an ID token, or the hybrid combinations of them (OIDC Core §3.3.2.5). An access
 * token issued here is told as `token.issued` with grant type `implicit`.
 */
export async function issueAuthorization(
  ctx: ServerContext,
  request: AuthorizationRequest,
  account: Account,
  session: { authTime: number; sid: string },
): Promise<Record<string, string>> {
  const { settings } = ctx;
  const types = request.responseTypes;
  const grant: UserGrant = {
    grantId: newGrantId(),
    userId: account.id,
    scope: request.scope,
    resources: request.resources,
    authTime: session.authTime,
    nonce: request.nonce,
    sid: session.sid,
    claims: request.claims,
  };
  const out: Record<string, string> = {};
  if (types.includes("code")) {
    out.code = await sealCode(ctx.secret(), {
      grantId: grant.grantId,
      clientId: request.client.id,
      userId: account.id,
      redirectUri: request.redirectUri,
      redirectUriSent: request.redirectUriSent,
      scope: request.scope,
      resources: request.resources,
      codeChallenge: request.codeChallenge,
      codeChallengeMethod: request.codeChallengeMethod,
      ...(request.dpopJkt ? { dpopJkt: request.dpopJkt } : {}),
      nonce: request.nonce,
      claims: request.claims,
      sid: session.sid,
      authTime: session.authTime,
      expiresAt: nowSeconds() + settings.AUTHORIZATION_CODE_EXPIRE_SECONDS,
    });
  }
  if (types.includes("token")) {
    // Implicit (RFC 6749 §4.2): the token goes in the fragment, never with a refresh token.
    const access = await userAccessToken(await ctx.keys(), ctx, request.client, grant);
    out.access_token = access.token;
    out.token_type = "Bearer";
    out.expires_in = String(access.expiresIn);
    out.scope = request.scope.join(" ");
  }
  if (types.includes("id_token")) {
    const idToken = await idTokenForGrant(ctx, request.client, {
      ...grant,
      accessToken: out.access_token,
      code: out.code,
      withScopeClaims: !types.includes("token") && !types.includes("code"),
    });
    if (idToken) out.id_token = idToken;
    // The client signs in with this ID token now, not at a code redemption: the session has it (logout).
    const party = idToken ? logoutPartyOf(request.client, grant, ctx.issuer, nowSeconds()) : undefined;
    if (party) await recordSessionClientQuery(ctx.db, party).run();
  }
  if (out.access_token) {
    ctx.emit({ type: "token.issued", grantType: "implicit", clientId: request.client.id, userId: account.id, scope: request.scope.join(" ") });
  }
  return out;
}
