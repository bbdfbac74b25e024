/**
 * Access tokens are JWTs, so revoking one is a note in KV that verifiers read: by grant (every
 * token of one authorization), kept as long as a token issued now would live. KV's smallest TTL
 * is 60 s. Propagation to other locations takes up to about 60 s (docs/consistency.md).
 */
export const revokedGrantKey = (grantId: string) => `revoked:grant:${grantId}`;

export async function revokeGrantAccessTokens(kv: KVNamespace, grantId: string, accessTokenLifetime: number): Promise<void> {
  await kv.put(revokedGrantKey(grantId), "1", { expirationTtl: Math.max(60, accessTokenLifetime) });
}
