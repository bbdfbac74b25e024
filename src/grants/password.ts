import { signInWithPassword } from "../session/accounts";
import { UNKNOWN_ADDRESS } from "../core/client-address";
import { insertRefreshToken } from "../db/refresh-tokens";
import { invalidGrant } from "../oauth/errors";
import { parseScope, resolveScope } from "../oauth/scope";
import { idTokenForGrant } from "../oidc/grant-id-token";
import { issuesRefreshTokens, newGrantId, newRefreshToken, userAccessToken } from "../tokens/user-tokens";
import type { Grant } from "./types";
import { nowSeconds } from "../core/time";

/**
 * RFC 6749 §4.3, kept for DOT parity and off unless a client is allowed it (OAuth 2.1 drops it:
 * the client sees the user's password). Attempts share the login form's throttle, per username and
 * client address (the address of whoever called the token endpoint: the client's server).
 */
export const password: Grant = {
  parameters: ["username", "password", "scope"],
  async handler(ctx) {
    const { client, params, settings, db } = ctx;
    const username = params.require("username");
    const secret = params.require("password");
    const scope = resolveScope(parseScope(params.get("scope")), client, settings);
    const account = await signInWithPassword(ctx.accounts, db, settings, username, secret, ctx.clientAddress ?? UNKNOWN_ADDRESS);
    if (account === "locked") throw invalidGrant("too many sign-in attempts for this user; try again later");
    if (account === "invalid") throw invalidGrant("invalid username or password");

    const grant = { grantId: newGrantId(), userId: account.id, scope, authTime: nowSeconds() };
    const refresh = issuesRefreshTokens(client) ? await newRefreshToken(settings, client, grant) : undefined;
    if (refresh) await insertRefreshToken(db, refresh.row).run();
    const access = await userAccessToken(ctx, client, grant);
    const idToken = await idTokenForGrant(ctx, client, { ...grant, accessToken: access.token });
    ctx.emit({ type: "token.issued", grantType: "password", clientId: client.id, userId: account.id, scope: scope.join(" ") });
    return {
      access_token: access.token,
      token_type: "Bearer",
      expires_in: access.expiresIn,
      scope: scope.join(" "),
      ...(refresh ? { refresh_token: refresh.token } : {}),
      ...(idToken ? { id_token: idToken } : {}),
    };
  },
};
