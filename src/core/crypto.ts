/** Small WebCrypto helpers shared by the Worker and the admin CLI (Node has the same API). */

import { base64url as joseBase64url } from "jose";

const encoder = new TextEncoder();

export const base64url = (bytes: Uint8Array): string => joseBase64url.encode(bytes);

/** Decodes base64url (jose's decoder); throws on malformed input. */
export const fromBase64url = (text: string): Uint8Array => joseBase64url.decode(text);

/** A random, URL-safe string carrying `bytes` bytes of entropy. */
export function randomToken(bytes = 32): string {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** A random identifier of letters and digits only (client ids: never shaped like a user's UUID `sub`). */
export function randomAlphanumeric(length = 32): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  const out: string[] = [];
  while (out.length < length) {
    for (const byte of crypto.getRandomValues(new Uint8Array(length * 2))) {
      // 248 = 4 * 62: rejection sampling keeps the distribution uniform.
      if (byte < 248 && out.length < length) out.push(alphabet[byte % 62]!);
    }
  }
  return out.join("");
}

/** Lower-case hex, two digits per byte. */
export const hex = (bytes: Uint8Array): string => [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join("");

export async function sha256(value: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(value)));
}

/** How secrets, codes and refresh tokens are stored: base64url(SHA-256(value)). */
export async function hashSecret(value: string): Promise<string> {
  return base64url(await sha256(value));
}

function timingSafeEqualBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  const subtle = crypto.subtle as SubtleCrypto & { timingSafeEqual?: (a: Uint8Array, b: Uint8Array) => boolean };
  if (typeof subtle.timingSafeEqual === "function") return subtle.timingSafeEqual(a, b);
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** Whether `secret` hashes to `storedHash` (from `hashSecret`): one digest, compared in constant time. */
export async function secretMatchesHash(secret: string, storedHash: string): Promise<boolean> {
  let expected: Uint8Array;
  try {
    expected = fromBase64url(storedHash);
  } catch {
    return false;
  }
  return timingSafeEqualBytes(await sha256(secret), expected);
}

/** Constant-time comparison of two strings of any length (compares their SHA-256 digests). */
export async function constantTimeEqual(a: string, b: string): Promise<boolean> {
  const [da, db] = await Promise.all([sha256(a), sha256(b)]);
  return timingSafeEqualBytes(da, db);
}

/** Workers caps PBKDF2 at 100,000 iterations; we use the cap. */
export const PBKDF2_ITERATIONS = 100_000;

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

async function pbkdf2(password: string, salt: string, iterations: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(password), "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt: encoder.encode(salt), iterations },
    key,
    256,
  );
  return new Uint8Array(bits);
}

/** Django's format, `pbkdf2_sha256$<iterations>$<salt>$<base64 hash>`, so DOT users can bring their hashes. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomAlphanumeric(22);
  const hash = await pbkdf2(password, salt, PBKDF2_ITERATIONS);
  return `pbkdf2_sha256$${PBKDF2_ITERATIONS}$${salt}$${toBase64(hash)}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [algorithm, iterationsText, salt, expected] = stored.split("$");
  const iterations = Number(iterationsText);
  if (algorithm !== "pbkdf2_sha256" || !salt || !expected) return false;
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > PBKDF2_ITERATIONS) return false;
  const actual = toBase64(await pbkdf2(password, salt, iterations));
  return constantTimeEqual(actual, expected);
}
