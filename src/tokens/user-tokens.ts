import { hashSecret, randomToken } from "../core/crypto";
import type { Client } from "../db/schema";
import type { NewRefreshToken } from "../db/refresh-tokens";
import type { ClaimsRequest } from "./claims-request";
import type { Settings } from "../core/settings";
import { audienceOf } from "../oauth/resource";
import { subjectFor } from "./subject";
import { issueAccessToken } from "./access-token";
import { seal, unseal } from "./sealed";
import { requireSecretKey } from "./secret-keys";
import type { KeyRing } from "./keys";
import { nowSeconds } from "../core/time";

/** What a user authorized a client to do: the grant that access and refresh tokens stand for. */
export interface UserGrant {
  grantId: string;
  userId: string;
  scope: string[];
  /**
   * RFC 8707: the resources the grant is for, the access token's `aud` (the default audience when
   * absent: grants from before resources existed). Kept with refresh tokens.
   */
  resources?: string[];
  authTime?: number | null;
  /** OpenID Connect request details kept with the grant (stored with refresh tokens). */
  nonce?: string;
  sid?: string;
  claims?: ClaimsRequest;
}

/** The OIDC details and resources of a grant as stored in a refresh token row. */
export function grantDetails(grant: UserGrant): Record<string, unknown> | null {
  const details = { nonce: grant.nonce, sid: grant.sid, claims: grant.claims, resources: grant.resources };
  return grant.nonce || grant.sid || grant.claims || grant.resources ? details : null;
}

const stringList = (value: unknown) => (Array.isArray(value) && value.every((v) => typeof v === "string") ? (value as string[]) : undefined);

export function fromDetails(details: Record<string, unknown> | null): Pick<UserGrant, "nonce" | "sid" | "claims" | "resources"> {
  if (!details) return {};
  return {
    nonce: typeof details.nonce === "string" ? details.nonce : undefined,
    sid: typeof details.sid === "string" ? details.sid : undefined,
    claims: (details.claims as ClaimsRequest | undefined) ?? undefined,
    resources: stringList(details.resources),
  };
}

export const newGrantId = () => randomToken(16);

/** A new refresh token value: random, with the id, hash and expiry its row stores. */
export async function newRefreshTokenValue(settings: Settings) {
  const token = randomToken(32);
  const now = nowSeconds();
  return { token, id: randomToken(16), tokenHash: await hashSecret(token), createdAt: now, expiresAt: now + settings.REFRESH_TOKEN_EXPIRE_SECONDS };
}

/**
 * A new refresh token: the value for the client, and the row (with its hash) for D1. With a DPoP
 * proof, a public client's token is bound to the proof's key (RFC 9449 §5: a confidential
 * client's is bound by its authentication already).
 */
export async function newRefreshToken(
  settings: Settings,
  client: Client,
  grant: UserGrant,
  dpop?: { jkt: string },
): Promise<{ token: string; row: NewRefreshToken & { id: string; createdAt: number } }> {
  const { token, ...value } = await newRefreshTokenValue(settings);
  return {
    token,
    row: {
      ...value,
      grantId: grant.grantId,
      clientId: client.id,
      userId: grant.userId,
      scope: grant.scope.join(" "),
      authTime: grant.authTime ?? null,
      details: grantDetails(grant),
      jkt: dpop && client.clientType === "public" ? dpop.jkt : null,
    },
  };
}

/** Whether the client gets refresh tokens: when it is allowed the refresh_token grant. */
export const issuesRefreshTokens = (client: Client) => client.grantTypes.includes("refresh_token");

/**
 * A user's access token, for the grant's resources (RFC 8707). For a pairwise client its `sub` is
 * the pairwise one too (RFC 9068 §6), so the JWT the client can read does not reveal the user's
 * id; the provider's own endpoints recover that id from `usr`, sealed for them (`userIdOf`).
 * With a DPoP proof on the request, the token carries `cnf.jkt` (RFC 9449 §6).
 */
export async function userAccessToken(
  ring: KeyRing,
  ctx: { settings: Settings; issuer: string; audience: string; dpop?: { jkt: string } },
  client: Client,
  grant: UserGrant,
) {
  const pairwise = client.subjectType === "pairwise";
  const secret = ctx.settings.SECRET_KEY;
  return issueAccessToken(ring, ctx.settings.ACCESS_TOKEN_SIGNING_ALG, {
    issuer: ctx.issuer,
    subject: pairwise ? await subjectFor(client, grant.userId, secret) : grant.userId,
    audience: grant.resources && grant.resources.length > 0 ? audienceOf(grant.resources) : ctx.audience,
    clientId: client.id,
    scope: grant.scope,
    lifetimeSeconds: ctx.settings.ACCESS_TOKEN_EXPIRE_SECONDS,
    claims: {
      gid: grant.grantId,
      ...(pairwise ? { usr: await seal(requireSecretKey(secret), USER_ID_PURPOSE, grant.userId) } : {}),
      ...(grant.authTime ? { auth_time: grant.authTime } : {}),
      // RFC 9449 §6.1: bound to the DPoP proof's key.
      ...(ctx.dpop ? { cnf: { jkt: ctx.dpop.jkt } } : {}),
      // The claims request's userinfo members, for the UserInfo endpoint (which keeps no state).
      ...(grant.claims?.userinfo ? { userinfo_claims: Object.keys(grant.claims.userinfo) } : {}),
    },
  });
}

const USER_ID_PURPOSE = "access token user id";

/** The user id behind a user's access token: `sub`, or for pairwise clients the sealed `usr`. */
export async function userIdOf(claims: { sub: string; usr?: unknown }, secret: string | undefined): Promise<string | undefined> {
  if (claims.usr === undefined) return claims.sub;
  return typeof claims.usr === "string" ? unseal<string>(requireSecretKey(secret), USER_ID_PURPOSE, claims.usr) : undefined;
}
