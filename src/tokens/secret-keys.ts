import { SettingsError } from "../core/settings";

/**
 * Keys derived from the SECRET_KEY setting with HKDF, one per purpose, so that no two uses
 * (sealed codes, CSRF tokens) share a key. Imported once per isolate.
 */
const encoder = new TextEncoder();
const derived = new Map<string, Promise<CryptoKey>>();

export function requireSecretKey(secret: string | undefined): string {
  if (!secret) {
    throw new SettingsError("Missing setting SECRET_KEY: run `npm start` once locally, or `wrangler secret put SECRET_KEY` (32+ random characters)");
  }
  return secret;
}

function derive(
  secret: string,
  purpose: string,
  algorithm: { name: "AES-GCM"; length: number } | { name: "HMAC"; hash: string; length: number },
  usages: ("encrypt" | "decrypt" | "sign" | "verify")[],
) {
  const id = `${purpose}\u0000${secret}`;
  let key = derived.get(id);
  if (!key) {
    key = (async () => {
      const base = await crypto.subtle.importKey("raw", encoder.encode(secret), "HKDF", false, ["deriveKey"]);
      return crypto.subtle.deriveKey(
        { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(), info: encoder.encode(`edge-oauth-toolkit ${purpose}`) },
        base,
        algorithm,
        false,
        usages,
      );
    })();
    derived.set(id, key);
  }
  return key;
}

export const sealingKey = (secret: string) =>
  derive(secret, "sealed codes v1", { name: "AES-GCM", length: 256 }, ["encrypt", "decrypt"]);

export const macKey = (secret: string, purpose: string) =>
  derive(secret, `mac ${purpose}`, { name: "HMAC", hash: "SHA-256", length: 256 }, ["sign", "verify"]);
