import { signInWithPassword } from "../session/accounts";
import { UNKNOWN_ADDRESS } from "../core/client-address";
import { insertRefreshToken } from "../db/refresh-tokens";
import { invalidGrant } from "../oauth/errors";
import { resolveResources } from "../oauth/resource";
import { parseScope, resolveScope } from "../oauth/scope";
import { issuesRefreshTokens, newGrantId, newRefreshToken } from "../tokens/user-tokens";
import { userTokenResponse } from "./token-response";
import type { Grant } from "./types";
import { nowSeconds } from "../core/time";

/**
 * RFC 6749 §4.3, kept for DOT parity and off unless a client is allowed it (OAuth 2.1 drops it:
 * the client sees the user's password). Attempts share the login form's throttle, per username and
 * client address (the address of whoever called the token endpoint: the client's server).
 */
export const passwordGrant: Grant = async (ctx) => {
  const { client, params, settings, db } = ctx;
  const username = params.require("username");
  const secret = params.require("password");
  const scope = resolveScope(parseScope(params.get("scope")), client, settings);
  const resources = resolveResources(params.getAll("resource"), { audience: ctx.audience, settings, client });
  const attempt = { via: "password_grant" as const, address: ctx.clientAddress ?? UNKNOWN_ADDRESS, clientId: client.id, emit: ctx.emit };
  const account = await signInWithPassword(ctx.accounts, db, settings, username, secret, attempt);
  if (account === "locked") throw invalidGrant("too many sign-in attempts for this user; try again later");
  if (account === "invalid") throw invalidGrant("invalid username or password");

  const grant = { grantId: newGrantId(), userId: account.id, scope, resources, authTime: nowSeconds() };
  const refresh = issuesRefreshTokens(client) ? await newRefreshToken(settings, client, grant, ctx.dpop) : undefined;
  if (refresh) await insertRefreshToken(db, refresh.row).run();
  return userTokenResponse(ctx, grant, refresh?.token, { type: "token.issued", grantType: "password" });
};
