import { deleteClient, forgetCachedClient } from "../db/clients";
import type { Database } from "../db/index";
import { revokeRefreshFamily, revokeUserClientRefreshTokens, revokeUserRefreshTokens } from "../db/refresh-tokens";
import type { Settings } from "../core/settings";
import { userIdOf } from "./user-tokens";
import { nowSeconds } from "../core/time";

/**
 * Access tokens are JWTs, so revoking one is a note in KV that verifiers read. Five kinds of
 * note, each kept only as long as a token it covers can live (KV's smallest TTL is 60 s):
 * by token id (`jti`), by grant (every token of one authorization, `gid`), a per-client
 * "not before" (every token of the client issued earlier), and a per-user "not before" (every
 * token of the user issued earlier: disabled user, new password), and a per-user-and-client "not
 * before" (the user revoked the client on the authorized-tokens page). A verifier reads them all in
 * one bulk KV read. Writes take up to about 60 s to reach other locations (docs/consistency.md).
 */
export const revokedTokenKey = (jti: string) => `revoked:jti:${jti}`;
export const revokedGrantKey = (grantId: string) => `revoked:grant:${grantId}`;
export const clientNotBeforeKey = (clientId: string) => `revoked:client:${clientId}`;
export const userNotBeforeKey = (userId: string) => `revoked:user:${userId}`;
/** Every token one user holds from one client issued earlier (the user revoked the client on the authorized-tokens page). */
export const userClientNotBeforeKey = (userId: string, clientId: string) => `revoked:user-client:${userId}:${clientId}`;

const ttl = (seconds: number) => ({ expirationTtl: Math.max(60, Math.ceil(seconds)) });

/**
 * Writes a note that is the same whenever it is written (a "not before" time: at most a second
 * older). KV refuses a second write of one key within a second (429): then the same note is
 * already there, so the revocation stands and the caller (revoking a token twice at once, two
 * replays of a code, a double click on a page's Revoke) gets its answer, not a 500.
 */
async function putSameNote(kv: Pick<KVNamespace, "put">, key: string, seconds: number, value = "1"): Promise<void> {
  try {
    await kv.put(key, value, ttl(seconds));
  } catch (err) {
    if (!(err instanceof Error && /\b429\b/.test(err.message))) throw err;
  }
}

export async function revokeAccessToken(kv: Pick<KVNamespace, "put">, jti: string, expiresAt: number): Promise<void> {
  const remaining = expiresAt - nowSeconds();
  if (remaining > 0) await putSameNote(kv, revokedTokenKey(jti), remaining);
}

export async function revokeGrantAccessTokens(kv: Pick<KVNamespace, "put">, grantId: string, accessTokenLifetime: number): Promise<void> {
  await putSameNote(kv, revokedGrantKey(grantId), accessTokenLifetime);
}

/**
 * Deletes a client (admin CLI, RFC 7592, the application pages): its refresh tokens and consents go
 * with the row (foreign keys), its access tokens are refused from now on through the client's note,
 * and this isolate forgets its cached copy. False if there was no such client (nothing is written).
 */
export async function deleteClientAndTokens(
  store: { db: Database; kv: Pick<KVNamespace, "put"> },
  clientId: string,
  settings: Pick<Settings, "ACCESS_TOKEN_EXPIRE_SECONDS">,
): Promise<boolean> {
  if (!(await deleteClient(store.db, clientId))) return false;
  await revokeClientAccessTokens(store.kv, clientId, settings.ACCESS_TOKEN_EXPIRE_SECONDS);
  forgetCachedClient(clientId);
  return true;
}

/** Revokes every access token of a client issued before now (e.g. when it is deleted or compromised). */
export async function revokeClientAccessTokens(kv: Pick<KVNamespace, "put">, clientId: string, accessTokenLifetime: number): Promise<void> {
  await kv.put(clientNotBeforeKey(clientId), String(nowSeconds()), ttl(accessTokenLifetime));
}

/** Revokes every access token of a user issued before now (disabled user, password change). */
export async function revokeUserAccessTokens(kv: Pick<KVNamespace, "put">, userId: string, accessTokenLifetime: number): Promise<void> {
  await kv.put(userNotBeforeKey(userId), String(nowSeconds()), ttl(accessTokenLifetime));
}

/**
 * Revokes every access token a user holds from one client issued before now, also those of
 * grants that had no refresh token (which no grant note can find).
 */
export async function revokeUserClientAccessTokens(
  kv: Pick<KVNamespace, "put">,
  userId: string,
  clientId: string,
  accessTokenLifetime: number,
): Promise<void> {
  await putSameNote(kv, userClientNotBeforeKey(userId, clientId), accessTokenLifetime, String(nowSeconds()));
}

export interface RevocationSubject {
  jti?: string;
  gid?: string;
  client_id?: string;
  iat?: number;
  sub?: string;
  /** The sealed user id of a pairwise client's token. */
  usr?: unknown;
  /** The user of a user's token, when the verifier opened `usr` (`withUserId`). */
  userId?: string;
  /**
   * A token from Token Exchange (RFC 8693): the client the user's grant was made to, whose subject
   * token was exchanged. Its client and user-and-client notes cover the exchanged token too.
   */
  origin_client_id?: unknown;
}

/** The clients whose notes cover a token: its own, and for an exchanged token the grant's original client. */
function clientsOf(claims: RevocationSubject): string[] {
  const own = claims.client_id ? [claims.client_id] : [];
  const origin = typeof claims.origin_client_id === "string" && claims.origin_client_id !== claims.client_id ? [claims.origin_client_id] : [];
  return [...own, ...origin];
}

/**
 * The user whose not-before note covers a token. Only user tokens (with a grant id) have one:
 * `sub`, unless the token is a pairwise client's, whose `sub` is pairwise and whose user id is
 * sealed in `usr` (known here only once `withUserId` opened it).
 */
function userOf(claims: RevocationSubject): string | undefined {
  if (!claims.gid) return undefined;
  return claims.userId ?? (claims.usr === undefined ? claims.sub : undefined);
}

/**
 * The token with its user id, opened from `usr` when the verifier has SECRET_KEY (the provider's
 * own Worker). Without it (a separate resource server) a pairwise token's user note cannot be
 * found: the grant notes `revokeUserTokens` writes cover those tokens instead.
 */
export async function withUserId<T extends RevocationSubject & { sub: string }>(claims: T, secret: string | undefined): Promise<T> {
  if (!claims.gid || claims.usr === undefined || !secret) return claims;
  const userId = await userIdOf(claims, secret);
  return userId ? { ...claims, userId } : claims;
}

/**
 * Revokes a whole grant: its refresh-token family in D1 (effective at once) and its access
 * tokens through a KV note (effective as KV propagates). Used on code reuse, refresh-token
 * reuse, and revocation of a refresh token.
 */
export async function revokeGrant(
  store: { db: Database; kv: KVNamespace },
  grantId: string,
  accessTokenLifetime: number,
): Promise<void> {
  await Promise.all([
    revokeRefreshFamily(store.db, grantId, nowSeconds()).run(),
    revokeGrantAccessTokens(store.kv, grantId, accessTokenLifetime),
  ]);
}

/** The KV keys that could revoke this token. */
export function revocationKeys(claims: RevocationSubject): string[] {
  const keys: string[] = [];
  if (claims.jti) keys.push(revokedTokenKey(claims.jti));
  if (claims.gid) keys.push(revokedGrantKey(claims.gid));
  const clients = clientsOf(claims);
  for (const clientId of clients) keys.push(clientNotBeforeKey(clientId));
  const userId = userOf(claims);
  if (userId) keys.push(userNotBeforeKey(userId));
  if (userId) for (const clientId of clients) keys.push(userClientNotBeforeKey(userId, clientId));
  return keys;
}

/** Whether the notes read for `revocationKeys(claims)` revoke the token. */
export function revokedBy(found: Map<string, string | null>, claims: RevocationSubject): boolean {
  if (claims.jti && found.get(revokedTokenKey(claims.jti))) return true;
  if (claims.gid && found.get(revokedGrantKey(claims.gid))) return true;
  const userId = userOf(claims);
  const clients = clientsOf(claims);
  const notBefore = [
    ...clients.map((clientId) => found.get(clientNotBeforeKey(clientId))),
    userId ? found.get(userNotBeforeKey(userId)) : null,
    ...(userId ? clients.map((clientId) => found.get(userClientNotBeforeKey(userId, clientId))) : []),
  ];
  // iat has one-second resolution: a token issued in the same second as the revocation is revoked too.
  return notBefore.some((time) => time != null && (claims.iat ?? 0) <= Number(time));
}

/** Reads the revocation notes of several tokens in one bulk KV read; true where a token is revoked. */
export async function areRevoked(kv: KVNamespace, tokens: RevocationSubject[]): Promise<boolean[]> {
  const keys = [...new Set(tokens.flatMap(revocationKeys))];
  if (keys.length === 0) return tokens.map(() => false);
  const found = await kv.get(keys, "text");
  return tokens.map((claims) => revokedBy(found, claims));
}

export async function isRevoked(kv: KVNamespace, claims: RevocationSubject): Promise<boolean> {
  const [revoked] = await areRevoked(kv, [claims]);
  return revoked ?? false;
}

/**
 * Revokes every token of a user (on disable, password change, "sign out everywhere" with
 * --revoke-tokens): the refresh tokens in D1 (effective at once), and the access tokens through
 * one user not-before note in KV that every verifier reads with the other notes. Pairwise
 * tokens hide their user from a resource server without SECRET_KEY, so each grant found also
 * gets a grant note (docs/consistency.md has the remaining gap).
 */
export async function revokeUserTokens(
  store: { db: Database; kv: Pick<KVNamespace, "put"> },
  userId: string,
  settings: Pick<Settings, "ACCESS_TOKEN_EXPIRE_SECONDS">,
): Promise<{ refreshTokens: number; grants: number }> {
  const lifetime = settings.ACCESS_TOKEN_EXPIRE_SECONDS;
  const revoked = await revokeUserRefreshTokens(store.db, userId, nowSeconds());
  await revokeUserAccessTokens(store.kv, userId, lifetime);
  // One at a time: on a deployed namespace each write is a wrangler process.
  for (const grantId of revoked.grantIds) await revokeGrantAccessTokens(store.kv, grantId, lifetime);
  return { refreshTokens: revoked.count, grants: revoked.grantIds.length };
}

/**
 * Every token a user holds from one client (REVOKE_TOKENS_ON_LOGOUT): the refresh tokens in D1,
 * and through their grants the access tokens issued with them. Returns how many grants were revoked.
 */
export async function revokeUserClientTokens(
  ctx: { db: Database; kv: KVNamespace; settings: Pick<Settings, "ACCESS_TOKEN_EXPIRE_SECONDS"> },
  userId: string,
  clientId: string,
): Promise<number> {
  const now = nowSeconds();
  const grantIds = await revokeUserClientRefreshTokens(ctx.db, userId, clientId, now);
  await Promise.all(grantIds.map((grantId) => revokeGrantAccessTokens(ctx.kv, grantId, ctx.settings.ACCESS_TOKEN_EXPIRE_SECONDS)));
  return grantIds.length;
}
