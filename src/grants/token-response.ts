import type { ProviderEvent } from "../core/events";
import { idTokenForGrant } from "../oidc/grant-id-token";
import { userAccessToken, type UserGrant } from "../tokens/user-tokens";
import type { GrantContext, TokenResponse } from "./types";

type TokenIssued = Extract<ProviderEvent, { type: "token.issued" }>;

/**
 * The token response of a user's grant (RFC 6749 §5.1): an access token, an ID token when
 * `openid` was granted, the refresh token when there is one; and the event that tells of it.
 */
export async function userTokenResponse(
  ctx: GrantContext,
  grant: UserGrant,
  refreshToken: string | undefined,
  event: { type: "token.issued"; grantType: TokenIssued["grantType"] } | { type: "token.refreshed" },
): Promise<TokenResponse> {
  const { client } = ctx;
  const access = await userAccessToken(await ctx.keys(), ctx, client, grant);
  const idToken = await idTokenForGrant(ctx, client, { ...grant, accessToken: access.token });
  const scope = grant.scope.join(" ");
  const told = { clientId: client.id, userId: grant.userId, scope };
  ctx.emit(event.type === "token.issued" ? { ...told, type: "token.issued", grantType: event.grantType } : { ...told, type: "token.refreshed" });
  return {
    access_token: access.token,
    token_type: ctx.dpop ? "DPoP" : "Bearer",
    expires_in: access.expiresIn,
    scope,
    ...(refreshToken ? { refresh_token: refreshToken } : {}),
    ...(idToken ? { id_token: idToken } : {}),
  };
}
