import type { Database } from "../db/index";
import { revokeRefreshFamily } from "../db/refresh-tokens";

/**
 * Access tokens are JWTs, so revoking one is a note in KV that verifiers read. Three kinds of
 * note, each kept only as long as a token it covers can live (KV's smallest TTL is 60 s):
 * by token id (`jti`), by grant (every token of one authorization, `gid`), and a per-client
 * "not before" (every token of the client issued earlier). A verifier reads all three in one
 * bulk KV read. Writes take up to about 60 s to reach other locations (docs/consistency.md).
 */
export const revokedTokenKey = (jti: string) => `revoked:jti:${jti}`;
export const revokedGrantKey = (grantId: string) => `revoked:grant:${grantId}`;
export const clientNotBeforeKey = (clientId: string) => `revoked:client:${clientId}`;

const ttl = (seconds: number) => ({ expirationTtl: Math.max(60, Math.ceil(seconds)) });

export async function revokeAccessToken(kv: KVNamespace, jti: string, expiresAt: number): Promise<void> {
  const remaining = expiresAt - Math.floor(Date.now() / 1000);
  if (remaining > 0) await kv.put(revokedTokenKey(jti), "1", ttl(remaining));
}

export async function revokeGrantAccessTokens(kv: KVNamespace, grantId: string, accessTokenLifetime: number): Promise<void> {
  await kv.put(revokedGrantKey(grantId), "1", ttl(accessTokenLifetime));
}

/** Revokes every access token of a client issued before now (e.g. when it is deleted or compromised). */
export async function revokeClientAccessTokens(kv: Pick<KVNamespace, "put">, clientId: string, accessTokenLifetime: number): Promise<void> {
  await kv.put(clientNotBeforeKey(clientId), String(Math.floor(Date.now() / 1000)), ttl(accessTokenLifetime));
}

export interface RevocationSubject {
  jti?: string;
  gid?: string;
  client_id?: string;
  iat?: number;
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
    revokeRefreshFamily(store.db, grantId, Math.floor(Date.now() / 1000)).run(),
    revokeGrantAccessTokens(store.kv, grantId, accessTokenLifetime),
  ]);
}

/** The KV keys that could revoke this token. */
export function revocationKeys(claims: RevocationSubject): string[] {
  const keys: string[] = [];
  if (claims.jti) keys.push(revokedTokenKey(claims.jti));
  if (claims.gid) keys.push(revokedGrantKey(claims.gid));
  if (claims.client_id) keys.push(clientNotBeforeKey(claims.client_id));
  return keys;
}

/** Whether the notes read for `revocationKeys(claims)` revoke the token. */
export function revokedBy(found: Map<string, string | null>, claims: RevocationSubject): boolean {
  if (claims.jti && found.get(revokedTokenKey(claims.jti))) return true;
  if (claims.gid && found.get(revokedGrantKey(claims.gid))) return true;
  const notBefore = claims.client_id ? found.get(clientNotBeforeKey(claims.client_id)) : null;
  // iat has one-second resolution: a token issued in the same second as the revocation is revoked too.
  return notBefore != null && (claims.iat ?? 0) <= Number(notBefore);
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
