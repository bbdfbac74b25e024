import { hashSecret } from "../core/crypto";
import { nowSeconds } from "../core/time";
import { pollDeviceAuthorization, redeemDeviceAuthorization, type PollOutcome } from "../db/device-authorizations";
import { insertRefreshToken } from "../db/refresh-tokens";
import type { DeviceAuthorization } from "../db/schema";
import { authorizationPending, deviceAccessDenied, expiredToken, invalidGrant, slowDown } from "../oauth/errors";
import { narrowResources, parseResources } from "../oauth/resource";
import { signingKeyFor } from "../tokens/keys";
import { issuesRefreshTokens, newGrantId, newRefreshToken, type UserGrant } from "../tokens/user-tokens";
import { userTokenResponse } from "./token-response";
import type { Grant, GrantContext } from "./types";

const UNKNOWN_CODE = "the device code is invalid, or was issued to another client";

/**
 * Why a poll gets no tokens, in RFC 8628 §3.5's terms. An unknown code and another client's code
 * are the same `invalid_grant`; a code already redeemed is `invalid_grant` too.
 */
function refusal(outcome: PollOutcome, clientId: string, now: number): Error {
  const row = outcome.row;
  if (!row || row.clientId !== clientId) return invalidGrant(UNKNOWN_CODE);
  if (row.status === "consumed") return invalidGrant("the device code has already been used");
  if (row.expiresAt <= now) return expiredToken("the device code has expired; start again");
  if (row.status === "denied") return deviceAccessDenied("the user denied the request");
  if (outcome.slowedDown) return slowDown(`polling too fast: wait at least ${row.interval} seconds between requests`);
  return authorizationPending("the user has not yet approved the request");
}

/** The grant the user approved on the verification page, as the tokens will carry it. */
function grantOf(row: DeviceAuthorization): UserGrant {
  return {
    grantId: newGrantId(),
    userId: row.userId!,
    scope: row.scope.split(" ").filter(Boolean),
    resources: row.resources,
    authTime: row.authTime,
  };
}

/**
 * RFC 8628 §3.4: the device polls with its device code. One D1 batch at the primary reads the
 * answer (`pollDeviceAuthorization`): pending, too fast, denied, expired, or approved. An approved
 * code is checked, then spent in one batch with the refresh token it issues
 * (`redeemDeviceAuthorization`), so a failure leaves it approved with nothing issued, and of two
 * concurrent polls only one gets tokens. Tokens are those of the code grant: an access token, a
 * refresh token when the client has that grant, an ID token when `openid` was approved.
 */
export const deviceCodeGrant: Grant = async (ctx: GrantContext) => {
  const { client, params, settings, db } = ctx;
  const deviceCode = params.require("device_code");
  const requested = parseResources(params.getAll("resource"));
  const keys = await ctx.keys();
  const now = nowSeconds();
  const outcome = await pollDeviceAuthorization(db, await hashSecret(deviceCode), client.id, now);
  const row = outcome.approved;
  if (!row || row.userId === null) throw refusal(outcome, client.id, now);
  // A user disabled (or removed) since approving gets no tokens, as at refresh.
  const active = ctx.accounts.usersTable === true ? outcome.userActive === true : (await ctx.accounts.findById(db, row.userId)) !== null;
  if (!active) throw invalidGrant("the user is disabled or no longer exists");

  const grant = grantOf(row);
  // RFC 8707 §2.2 and a missing ID token key: checked before the code is spent, so a corrected poll gets the tokens.
  const resources = narrowResources(requested, grant.resources ?? [ctx.audience]);
  if (grant.scope.includes("openid")) signingKeyFor(keys, client.idTokenSignedResponseAlg);
  const refresh = issuesRefreshTokens(client) ? await newRefreshToken(settings, client, grant, ctx.dpop) : undefined;
  if (!(await redeemDeviceAuthorization(db, row, refresh ? [insertRefreshToken(db, refresh.row)] : []))) {
    throw invalidGrant("the device code has already been used");
  }
  return userTokenResponse(ctx, { ...grant, resources }, refresh?.token, { type: "token.issued", grantType: "device_code" });
};
