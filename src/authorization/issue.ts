import type { Account } from "../accounts";
import type { Settings } from "../settings";
import { sealCode } from "../tokens/authorization-code";
import type { KeyRing } from "../tokens/keys";
import { requireSecretKey } from "../tokens/secret-keys";
import { newGrantId, userAccessToken } from "../tokens/user-tokens";
import type { AuthorizationRequest } from "./request";

/** The parameters of a successful authorization response: a sealed code, an access token, or both. */
export async function issueAuthorization(
  ctx: { settings: Settings; keys: () => Promise<KeyRing>; issuer: string; audience: string },
  request: AuthorizationRequest,
  account: Account,
  authTime: number,
): Promise<Record<string, string>> {
  const { settings } = ctx;
  const grantId = newGrantId();
  const out: Record<string, string> = {};
  if (request.responseTypes.includes("code")) {
    out.code = await sealCode(requireSecretKey(settings.SECRET_KEY), {
      grantId,
      clientId: request.client.id,
      userId: account.id,
      redirectUri: request.redirectUri,
      redirectUriSent: request.redirectUriSent,
      scope: request.scope,
      codeChallenge: request.codeChallenge,
      codeChallengeMethod: request.codeChallengeMethod,
      nonce: request.nonce,
      claims: request.claims,
      authTime,
      expiresAt: Math.floor(Date.now() / 1000) + settings.AUTHORIZATION_CODE_EXPIRE_SECONDS,
    });
  }
  if (request.responseTypes.includes("token")) {
    // Implicit (RFC 6749 §4.2): the token goes in the fragment, never with a refresh token.
    const access = await userAccessToken({ ...ctx, keys: await ctx.keys() }, request.client, {
      grantId,
      userId: account.id,
      scope: request.scope,
      authTime,
    });
    out.access_token = access.token;
    out.token_type = "Bearer";
    out.expires_in = String(access.expiresIn);
    out.scope = request.scope.join(" ");
  }
  return out;
}
