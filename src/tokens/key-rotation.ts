import type { JWK } from "jose";
import { generateSigningKey } from "./generate-keys";
import { jwkSetKeys } from "./keys";

/**
 * Signing-key rotation, add-then-retire (docs/keys.md). The first key of each algorithm in
 * SIGNING_KEYS signs; every key is published in the JWKS. These pure steps edit the set:
 * 1. `addKey`: a new key goes last, so it is published but does not sign yet;
 * 2. `promoteKey`: once relying parties have had time to fetch the JWKS, it moves first and signs;
 * 3. `retireKey`: once no token signed by the old key can still be valid, the old key goes.
 */
export interface KeySet {
  keys: JWK[];
}

export class KeyRotationError extends Error {
  override name = "KeyRotationError";
}

export function parseKeySet(text: string): KeySet {
  const notASet = () => new KeyRotationError('the key set must be {"keys": [...]} with a kid and alg on every key');
  const keys = jwkSetKeys(text, { notJson: () => new KeyRotationError("the key set is not JSON"), notASet }) as JWK[];
  if (keys.some((k) => typeof k?.kid !== "string" || typeof k?.alg !== "string")) throw notASet();
  return { keys };
}

export async function addKey(set: KeySet, alg: string): Promise<{ set: KeySet; kid: string }> {
  const key = await generateSigningKey(alg);
  return { set: { keys: [...set.keys, key] }, kid: key.kid! };
}

function find(set: KeySet, kid: string): JWK {
  const key = set.keys.find((k) => k.kid === kid);
  if (!key) throw new KeyRotationError(`no key with kid ${kid}`);
  return key;
}

/** Moves the key first among the keys of its algorithm, so it signs from the next deploy on. */
export function promoteKey(set: KeySet, kid: string): KeySet {
  const key = find(set, kid);
  return { keys: [key, ...set.keys.filter((k) => k !== key)] };
}

/** Removes a key; the signing key of an algorithm cannot be removed while others of it remain unpromoted. */
export function retireKey(set: KeySet, kid: string): KeySet {
  const key = find(set, kid);
  if (signingKids(set).includes(kid)) {
    throw new KeyRotationError(`key ${kid} signs ${key.alg} tokens: promote another ${key.alg} key first`);
  }
  return { keys: set.keys.filter((k) => k !== key) };
}

/** The kid that signs, for each algorithm: the first key of it. */
export function signingKids(set: KeySet): string[] {
  const seen = new Set<string>();
  const kids: string[] = [];
  for (const key of set.keys) {
    if (!seen.has(key.alg!)) {
      seen.add(key.alg!);
      kids.push(key.kid!);
    }
  }
  return kids;
}
