import { base64url, fromBase64url } from "../core/crypto";
import { sealingKey } from "./secret-keys";

/**
 * Values sealed with AES-256-GCM under a key derived from SECRET_KEY: confidential and tamper-proof
 * in the hands of a client. Each value is sealed for one purpose, and opens only for it, so a
 * sealed value of one kind can never be passed off as another.
 */

/**
 * Decodes canonical base64url only: another spelling of the same bytes (different unused bits in
 * the last character) would otherwise be a second value, with its own hash, for the same content.
 */
function fromCanonicalBase64url(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(text)) return undefined;
  let bytes: Uint8Array;
  try {
    bytes = fromBase64url(text);
  } catch {
    return undefined;
  }
  return base64url(bytes) === text ? bytes : undefined;
}

export async function seal(secret: string, purpose: string, value: unknown): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const plaintext = new TextEncoder().encode(JSON.stringify({ p: purpose, v: value }));
  const ciphertext = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv }, await sealingKey(secret), plaintext));
  const out = new Uint8Array(iv.length + ciphertext.length);
  out.set(iv);
  out.set(ciphertext, iv.length);
  return base64url(out);
}

/** The value sealed for `purpose`, or undefined for anything forged, altered, malformed or sealed for another purpose. */
export async function unseal<T>(secret: string, purpose: string, text: string): Promise<T | undefined> {
  if (text.length > 8192) return undefined;
  const bytes = fromCanonicalBase64url(text);
  if (!bytes || bytes.length < 12 + 16) return undefined;
  try {
    const plaintext = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: bytes.slice(0, 12) },
      await sealingKey(secret),
      bytes.slice(12),
    );
    const sealed = JSON.parse(new TextDecoder().decode(plaintext)) as { p?: unknown; v?: T };
    return sealed.p === purpose ? sealed.v : undefined;
  } catch {
    return undefined;
  }
}
