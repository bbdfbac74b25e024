import { importJWK, type CryptoKey, type JWK } from "jose";
import { SettingsError } from "../core/settings";

/**
 * Signing keys come from the `SIGNING_KEYS` secret: a JWK set of private keys, each with `kid` and
 * `alg`. The first key of an algorithm signs; every key is published in the JWKS, so rotation is
 * add-then-retire (see docs/keys.md).
 */
export interface SigningKey {
  kid: string;
  alg: string;
  key: CryptoKey;
  /** The public half, imported once, for verifying our own tokens. */
  verifyKey: CryptoKey;
  publicJwk: JWK;
  /** Where the key lives: the `SIGNING_KEYS` secret (the default) or D1 (DATABASE_SIGNING_KEYS). */
  source?: "secret" | "database";
  /** A database key: when it signs from (epoch seconds), once promoted. */
  signsFrom?: number | null;
}

export interface KeyRing {
  keys: SigningKey[];
  jwks: { keys: JWK[] };
}

const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "k", "oth"] as const;

export function publicPart(jwk: JWK): JWK {
  const copy: Record<string, unknown> = { ...jwk };
  for (const member of PRIVATE_MEMBERS) delete copy[member];
  delete copy.key_ops;
  delete copy.ext;
  return { ...(copy as JWK), use: "sig" };
}

let cached: { source: string; ring: Promise<KeyRing> } | undefined;

/** The `keys` array of a JWK set written as JSON; otherwise the error its caller names. */
export function jwkSetKeys(text: string, errors: { notJson: () => Error; notASet: () => Error }): unknown[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw errors.notJson();
  }
  const keys = (parsed as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw errors.notASet();
  return keys;
}

async function buildKeyRing(source: string): Promise<KeyRing> {
  const notASet = () => new SettingsError('Invalid setting SIGNING_KEYS: must be {"keys": [private JWK, ...]} with at least one key');
  const list = jwkSetKeys(source, { notJson: () => new SettingsError("Invalid setting SIGNING_KEYS: must be a JSON Web Key Set"), notASet });
  if (list.length === 0) throw notASet();
  const keys = await Promise.all(
    (list as JWK[]).map(async (jwk, i) => {
      if (!jwk.kid || !jwk.alg || !jwk.d) {
        throw new SettingsError(`Invalid setting SIGNING_KEYS: key ${i} needs "kid", "alg" and its private part`);
      }
      const key = (await importJWK(jwk, jwk.alg)) as CryptoKey;
      const publicJwk = publicPart(jwk);
      const verifyKey = (await importJWK(publicJwk, jwk.alg)) as CryptoKey;
      return { kid: jwk.kid, alg: jwk.alg, key, verifyKey, publicJwk };
    }),
  );
  return { keys, jwks: { keys: keys.map((k) => k.publicJwk) } };
}

/** The key ring for this isolate, imported once per secret value. */
export function loadKeyRing(source: string | undefined): Promise<KeyRing> {
  if (!source) return Promise.reject(new SettingsError("Missing setting SIGNING_KEYS: run `npm start` once locally, or `npm run admin -- keys generate` and `wrangler secret put SIGNING_KEYS`"));
  if (cached?.source !== source) {
    const ring = buildKeyRing(source);
    cached = { source, ring };
    ring.catch(() => {
      if (cached?.ring === ring) cached = undefined;
    });
  }
  return cached.ring;
}

/**
 * The key that signs `alg` at `now`: the database key of that algorithm promoted latest with
 * `signsFrom <= now`, if any; else the first key of the secret (docs/keys.md).
 */
export function signingKeyFor(ring: KeyRing, alg: string, now = Date.now() / 1000): SigningKey {
  let key: SigningKey | undefined;
  for (const k of ring.keys) {
    if (k.alg !== alg || k.source !== "database" || k.signsFrom == null || k.signsFrom > now) continue;
    if (!key || k.signsFrom > key.signsFrom!) key = k;
  }
  key ??= ring.keys.find((k) => k.alg === alg && k.source !== "database");
  if (!key) throw new SettingsError(`Invalid setting SIGNING_KEYS: no key with alg ${alg}`);
  return key;
}

/** The algorithms some key signs at `now` (discovery's `id_token_signing_alg_values_supported`). */
export function signingAlgorithms(ring: KeyRing, now = Date.now() / 1000): string[] {
  const algs = new Set(ring.keys.map((k) => k.alg));
  return [...algs].filter((alg) => ring.keys.some((k) => k.alg === alg && (k.source !== "database" || (k.signsFrom != null && k.signsFrom <= now))));
}

export { generateSigningKey, generateSigningKeySet } from "./generate-keys";
