import { SignJWT } from "jose";
import { base64url } from "../core/crypto";
import type { Client } from "../db/schema";
import { signingKeyFor, type KeyRing } from "../tokens/keys";
import { nowSeconds } from "../core/time";

/** OIDC Core §3.3.2.11: the hash of `at_hash`/`c_hash` follows the signing algorithm. */
function hashAlgorithmFor(alg: string): string {
  if (alg.endsWith("384")) return "SHA-384";
  if (alg.endsWith("512") || alg === "EdDSA" || alg === "Ed25519") return "SHA-512";
  return "SHA-256";
}

/** The left-most half of the hash of the ASCII value, base64url-encoded. */
export async function halfHash(value: string, alg: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest(hashAlgorithmFor(alg), new TextEncoder().encode(value)));
  return base64url(digest.slice(0, digest.length / 2));
}

export interface IdTokenInput {
  issuer: string;
  client: Client;
  /** The `sub` for this client (pairwise when the client asks for it). */
  subject: string;
  lifetimeSeconds: number;
  authTime?: number | null;
  nonce?: string;
  sid?: string;
  /** Returned alongside: `at_hash` and `c_hash` bind the ID token to them. */
  accessToken?: string;
  code?: string;
  /** User claims to include (scope claims when no access token is issued, or requested ones). */
  claims?: Record<string, unknown>;
}

/** Signs an ID token (OIDC Core §2) with the client's `id_token_signed_response_alg` (RS256 by default). */
export async function issueIdToken(ring: KeyRing, input: IdTokenInput): Promise<string> {
  const key = signingKeyFor(ring, input.client.idTokenSignedResponseAlg);
  const payload: Record<string, unknown> = {
    ...input.claims,
    azp: input.client.id,
    ...(input.authTime ? { auth_time: input.authTime, amr: ["pwd"] } : {}),
    ...(input.nonce !== undefined ? { nonce: input.nonce } : {}),
    ...(input.sid ? { sid: input.sid } : {}),
    ...(input.accessToken ? { at_hash: await halfHash(input.accessToken, key.alg) } : {}),
    ...(input.code ? { c_hash: await halfHash(input.code, key.alg) } : {}),
  };
  const now = nowSeconds();
  return new SignJWT(payload)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "JWT" })
    .setIssuer(input.issuer)
    .setSubject(input.subject)
    .setAudience(input.client.id)
    .setIssuedAt(now)
    .setExpirationTime(now + input.lifetimeSeconds)
    .sign(key.key);
}
