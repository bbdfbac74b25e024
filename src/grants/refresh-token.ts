import { hashSecret } from "../crypto";
import { findRefreshToken, revokeRefreshFamily, rotateRefreshToken } from "../db/refresh-tokens";
import { builtinAccounts } from "../accounts";
import { invalidGrant, invalidScope } from "../oauth/errors";
import { parseScope } from "../oauth/scope";
import { revokeGrantAccessTokens } from "../tokens/revocation";
import { idTokenForGrant } from "../oidc/grant-id-token";
import { fromDetails, newRefreshToken, userAccessToken, type UserGrant } from "../tokens/user-tokens";
import type { Grant, GrantContext } from "./types";

async function revokeFamily(ctx: GrantContext, grantId: string, now: number): Promise<void> {
  await Promise.all([
    revokeRefreshFamily(ctx.db, grantId, now).run(),
    revokeGrantAccessTokens(ctx.kv, grantId, ctx.settings.ACCESS_TOKEN_EXPIRE_SECONDS),
  ]);
}

/**
 * RFC 6749 §6 with OAuth 2.1 rotation: each use returns a new refresh token; presenting a
 * rotated one again (after the grace period) revokes the whole family. Public clients are always
 * rotated. Two D1 round-trips: read the token, then one batch that rotates it.
 */
export const refreshToken: Grant = {
  parameters: ["refresh_token", "scope"],
  async handler(ctx) {
    const { client, params, settings, db } = ctx;
    const presented = params.require("refresh_token");
    const row = await findRefreshToken(db, await hashSecret(presented));
    const now = Math.floor(Date.now() / 1000);
    if (!row) throw invalidGrant("the refresh token is invalid");
    if (row.clientId !== client.id) throw invalidGrant("the refresh token was issued to another client");
    if (row.revokedAt !== null) throw invalidGrant("the refresh token has been revoked");
    if (row.expiresAt <= now) throw invalidGrant("the refresh token has expired");
    const grace = settings.REFRESH_TOKEN_GRACE_PERIOD_SECONDS;
    if (row.rotatedAt !== null && (grace === 0 || now - row.rotatedAt >= grace)) {
      await revokeFamily(ctx, row.grantId, now);
      throw invalidGrant("the refresh token was already used; every token of this grant is now revoked");
    }
    const active =
      ctx.accounts === builtinAccounts ? row.userActive === true : (await ctx.accounts.findById(db, row.userId)) !== null;
    if (!active) throw invalidGrant("the user is disabled or no longer exists");

    const granted = row.scope.split(" ").filter(Boolean);
    const requested = parseScope(params.get("scope"));
    const widened = requested?.find((s) => !granted.includes(s));
    if (widened) throw invalidScope(`the scope "${widened}" was not granted originally`);
    const grant: UserGrant = {
      grantId: row.grantId,
      userId: row.userId,
      scope: requested ?? granted,
      authTime: row.authTime,
      ...fromDetails(row.details),
    };

    let refreshTokenOut = presented;
    if (settings.ROTATE_REFRESH_TOKEN || client.clientType === "public") {
      // The new token keeps the originally granted scope, so a narrowed request can widen back later.
      const next = await newRefreshToken(settings, client, { ...grant, scope: granted });
      if (!(await rotateRefreshToken(db, row.id, next.row, grace))) {
        await revokeFamily(ctx, row.grantId, now);
        throw invalidGrant("the refresh token was already used; every token of this grant is now revoked");
      }
      refreshTokenOut = next.token;
    }
    const access = await userAccessToken(ctx, client, grant);
    // OIDC Core §12.2: a refreshed ID token keeps sub and auth_time; nonce is not repeated.
    const idToken = await idTokenForGrant(ctx, client, { ...grant, nonce: undefined, accessToken: access.token });
    ctx.emit({ type: "token.refreshed", clientId: client.id, userId: row.userId, scope: grant.scope.join(" ") });
    return {
      access_token: access.token,
      token_type: "Bearer",
      expires_in: access.expiresIn,
      scope: grant.scope.join(" "),
      refresh_token: refreshTokenOut,
      ...(idToken ? { id_token: idToken } : {}),
    };
  },
};
