import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from "jose";

// No relative imports here: vitest.config.ts and the Node scripts load this file directly.

/**
 * A new private JWK with `kid` (its thumbprint), `alg` and `use`, ready for SIGNING_KEYS. A key
 * whose thumbprint starts with `-` is drawn again (1 in 64): such a kid reads as an option on the
 * command line (`keys promote --kid <kid>`).
 */
export async function generateSigningKey(alg: string): Promise<JWK> {
  const options = alg === "EdDSA" ? { crv: "Ed25519", extractable: true } : { extractable: true };
  for (;;) {
    const { privateKey } = await generateKeyPair(alg, options);
    const jwk = await exportJWK(privateKey);
    const kid = await calculateJwkThumbprint(jwk);
    if (!kid.startsWith("-")) return { ...jwk, kid, alg, use: "sig" };
  }
}

/**
 * The default key set: ES256 for access tokens, RS256 for ID tokens (OIDC requires it), and
 * Ed25519 (RFC 9864) and EdDSA (its deprecated name, for relying parties that know only it) for
 * clients that pick them.
 */
export async function generateSigningKeySet(): Promise<{ keys: JWK[] }> {
  return { keys: await Promise.all(["ES256", "RS256", "Ed25519", "EdDSA"].map(generateSigningKey)) };
}
