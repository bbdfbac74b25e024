import { base64url } from "../crypto";
import type { ClaimsRequest } from "../oidc/claims";
import { sealingKey } from "./secret-keys";

/**
 * Authorization codes are sealed: the grant they stand for is encrypted (AES-256-GCM) into the
 * code itself, so any location can redeem a code the moment it is issued, without waiting for
 * KV to propagate. Single use is decided at redemption by a unique insert of the code's hash
 * in D1 (see docs/consistency.md).
 */
export interface CodeGrant {
  /** The family id shared by every token this code leads to. */
  grantId: string;
  clientId: string;
  userId: string;
  redirectUri: string;
  /** Whether the authorization request carried `redirect_uri` (then the token request must repeat it). */
  redirectUriSent: boolean;
  scope: string[];
  codeChallenge?: string;
  codeChallengeMethod?: "S256" | "plain";
  nonce?: string;
  claims?: ClaimsRequest;
  /** The browser session the code came from (OIDC `sid`). */
  sid?: string;
  authTime: number;
  /** Unix seconds. */
  expiresAt: number;
}

/**
 * Decodes canonical base64url only: another spelling of the same bytes (different unused bits in
 * the last character) would otherwise be a second code, with its own hash, for the same grant.
 */
function fromBase64url(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(text)) return undefined;
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  let bytes: Uint8Array;
  try {
    const binary = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
    bytes = Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
  } catch {
    return undefined;
  }
  return base64url(bytes) === text ? bytes : undefined;
}

export async function sealCode(secret: string, grant: CodeGrant): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const plaintext = new TextEncoder().encode(JSON.stringify(grant));
  const ciphertext = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv }, await sealingKey(secret), plaintext));
  const out = new Uint8Array(iv.length + ciphertext.length);
  out.set(iv);
  out.set(ciphertext, iv.length);
  return base64url(out);
}

/** The grant sealed in `code`, or undefined for anything forged, altered or malformed. Expiry is the caller's check. */
export async function openCode(secret: string, code: string): Promise<CodeGrant | undefined> {
  if (code.length > 8192) return undefined;
  const bytes = fromBase64url(code);
  if (!bytes || bytes.length < 12 + 16) return undefined;
  try {
    const plaintext = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: bytes.slice(0, 12) },
      await sealingKey(secret),
      bytes.slice(12),
    );
    return JSON.parse(new TextDecoder().decode(plaintext)) as CodeGrant;
  } catch {
    return undefined;
  }
}
