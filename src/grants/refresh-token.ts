import { hashSecret } from "../core/crypto";
import { UNKNOWN_ADDRESS } from "../core/client-address";
import { claimAndRotateRefreshToken, findRefreshToken, refreshTokenState } from "../db/refresh-tokens";
import type { RefreshToken } from "../db/schema";
import { invalidGrant, invalidScope, type OAuthError } from "../oauth/errors";
import { narrowResources, parseResources, resourceNotGranted, widensResources } from "../oauth/resource";
import { parseScope } from "../oauth/scope";
import { revokeGrant } from "../tokens/revocation";
import { fromDetails, newRefreshTokenValue, type UserGrant } from "../tokens/user-tokens";
import { userTokenResponse } from "./token-response";
import type { Grant, GrantContext } from "./types";
import { nowSeconds } from "../core/time";

const revokeFamily = (ctx: GrantContext, grantId: string) => revokeGrant(ctx, grantId, ctx.settings.ACCESS_TOKEN_EXPIRE_SECONDS);

const REUSED = "the refresh token was already used; every token of this grant is now revoked";

/** Reuse detected: the whole family is revoked and the event told. Returns the error to answer. */
async function refuseReuse(ctx: GrantContext, row: Pick<RefreshToken, "grantId" | "userId">): Promise<OAuthError> {
  await revokeFamily(ctx, row.grantId);
  ctx.emit({
    type: "refresh_token.reused",
    clientId: ctx.client.id,
    userId: row.userId,
    grantId: row.grantId,
    clientAddress: ctx.clientAddress ?? UNKNOWN_ADDRESS,
  });
  return invalidGrant(REUSED);
}

/** The resources of the token's grant: those stored with it, or the default audience for a token from before resources. */
const grantedResources = (ctx: GrantContext, row: Pick<RefreshToken, "details">) => fromDetails(row.details).resources ?? [ctx.audience];

/**
 * Why this token cannot be refreshed, checked in the order a client can act on; reuse of a
 * rotated token revokes its whole family first. Undefined when nothing is wrong with it.
 */
async function refusal(
  ctx: GrantContext,
  row: (RefreshToken & { userActive: boolean | null }) | undefined,
  requested: { scope: string[] | undefined; resources: string[] },
  now: number,
): Promise<OAuthError | undefined> {
  if (!row) return invalidGrant("the refresh token is invalid");
  if (row.clientId !== ctx.client.id) return invalidGrant("the refresh token was issued to another client");
  const state = refreshTokenState(row, now, ctx.settings.REFRESH_TOKEN_GRACE_PERIOD_SECONDS);
  if (state === "revoked") return invalidGrant("the refresh token has been revoked");
  if (state === "expired") return invalidGrant("the refresh token has expired");
  if (state === "reused") return refuseReuse(ctx, row);
  // RFC 9449 §5: a public client's token bound to a DPoP key is used only with a proof of that key.
  if (row.jkt !== null && row.jkt !== ctx.dpop?.jkt) return invalidGrant("the refresh token is bound to another DPoP key");
  if (ctx.accounts.usersTable === true && row.userActive !== true) return invalidGrant("the user is disabled or no longer exists");
  const granted = row.scope.split(" ");
  const widened = requested.scope?.find((s) => !granted.includes(s));
  if (widened) return invalidScope("a requested scope was not granted originally; a refresh may narrow the scope, never widen it");
  if (widensResources(requested.resources, grantedResources(ctx, row))) return resourceNotGranted();
  return undefined;
}

/**
 * RFC 6749 §6 with OAuth 2.1 rotation: each use returns a new refresh token; presenting a
 * rotated one again (after the grace period) revokes the whole family. Public clients are always
 * rotated. A rotation is one D1 batch that checks and rotates at once; only a refused token costs
 * a second read, to say why. `resource` may narrow the access token's resources (RFC 8707 §2.2);
 * the refresh token keeps all of its grant's. A public client's token bound to a DPoP key (RFC 9449
 * §5) needs a proof of that key, and its successor stays bound to it.
 */
export const refreshTokenGrant: Grant = async (ctx) => {
  const { client, params, settings, db } = ctx;
  const presented = params.require("refresh_token");
  const requested = parseScope(params.get("scope"));
  const resources = parseResources(params.getAll("resource"));
  const tokenHash = await hashSecret(presented);
  const now = nowSeconds();
  const rotate = settings.ROTATE_REFRESH_TOKEN || client.clientType === "public";

  let row: RefreshToken | undefined;
  let refreshTokenOut = presented;
  if (rotate) {
    const next = await newRefreshTokenValue(settings);
    row = await claimAndRotateRefreshToken(db, {
      tokenHash,
      clientId: client.id,
      now,
      graceSeconds: settings.REFRESH_TOKEN_GRACE_PERIOD_SECONDS,
      scopes: requested ?? [],
      resources,
      defaultResource: ctx.audience,
      activeInUsersTable: ctx.accounts.usersTable === true,
      jkt: ctx.dpop?.jkt ?? null,
      next,
    });
    refreshTokenOut = next.token;
  }
  if (!row) {
    const found = await findRefreshToken(db, tokenHash);
    const error = await refusal(ctx, found, { scope: requested, resources }, now);
    if (error) throw error;
    if (rotate) {
      // Nothing was wrong with it, yet the claim failed: a concurrent request rotated it first.
      throw await refuseReuse(ctx, found!);
    }
    row = found!;
  }
  if (ctx.accounts.usersTable !== true && (await ctx.accounts.findById(db, row.userId)) === null) {
    if (rotate) await revokeFamily(ctx, row.grantId);
    throw invalidGrant("the user is disabled or no longer exists");
  }

  const grant: UserGrant = {
    grantId: row.grantId,
    userId: row.userId,
    scope: requested ?? row.scope.split(" "),
    authTime: row.authTime,
    ...fromDetails(row.details),
    resources: narrowResources(resources, grantedResources(ctx, row)),
    // OIDC Core §12.2: a refreshed ID token keeps sub and auth_time; nonce is not repeated.
    nonce: undefined,
  };
  return userTokenResponse(ctx, grant, refreshTokenOut, { type: "token.refreshed" });
};
