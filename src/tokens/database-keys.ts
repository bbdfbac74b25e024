import { importJWK, type CryptoKey, type JWK } from "jose";
import { errorFields, logError } from "../core/log";
import type { Settings } from "../core/settings";
import { nowSeconds } from "../core/time";
import type { Database } from "../db/index";
import type { SigningKeyRow } from "../db/schema";
import { findSigningKey, insertSigningKey, listAllSigningKeys, listLiveSigningKeys, retireSigningKey, setSigningKeySignsFrom } from "../db/signing-keys";
import { generateSigningKey } from "./generate-keys";
import { loadKeyRing, publicPart, type KeyRing, type SigningKey } from "./keys";
import { seal, unseal } from "./sealed";

/**
 * Signing keys kept in D1 (DATABASE_SIGNING_KEYS), beside the `SIGNING_KEYS` secret's: added,
 * promoted and retired from the operator console or `admin db-keys`, as Hydra and Keycloak do.
 * The private JWK is sealed under SECRET_KEY; the ring (secret keys + database keys) is cached
 * per isolate for DATABASE_KEY_RING_SECONDS. Why the delays below are safe: docs/keys.md.
 */

/** How long an isolate keeps the ring it read from D1: a change reaches every isolate within this. */
export const DATABASE_KEY_RING_SECONDS = 60;
/** The JWKS response's `max-age` and `stale-while-revalidate` (routes/jwks.ts sends them). */
export const JWKS_MAX_AGE_SECONDS = 300;
export const JWKS_STALE_SECONDS = 60;
/**
 * The shortest time from adding a key to its signing: every isolate has read it (ring cache), then
 * every JWKS cache that follows our Cache-Control has fetched it (max-age, served stale at most
 * stale-while-revalidate longer): 60 + 300 + 60 = 420 s.
 */
export const PROMOTION_DELAY_SECONDS = DATABASE_KEY_RING_SECONDS + JWKS_MAX_AGE_SECONDS + JWKS_STALE_SECONDS;
/** After a failed read of D1, how long an isolate keeps serving the ring it had before trying again. */
const RETRY_AFTER_FAILURE_SECONDS = 10;
const PURPOSE = "signing-key";

/** A change the rules refuse (the message says why and what to do): a 409 in the console, exit 1 in the CLI. */
export class KeyChangeRefused extends Error {
  override name = "KeyChangeRefused";
}

/** The longest lifetime of a token a key signs: access tokens and ID tokens. */
export const longestSignedLifetime = (settings: Pick<Settings, "ACCESS_TOKEN_EXPIRE_SECONDS" | "ID_TOKEN_EXPIRE_SECONDS">) =>
  Math.max(settings.ACCESS_TOKEN_EXPIRE_SECONDS, settings.ID_TOKEN_EXPIRE_SECONDS);

// ---- the ring ------------------------------------------------------------------------------

interface Cached {
  source: string;
  secret: string;
  expiresAt: number;
  ring: Promise<KeyRing>;
  /** The last ring built, served for a while when a later read of D1 fails. */
  last?: KeyRing;
}

let cached: Cached | undefined;
/** Imported database keys by kid, with the sealed text they came from: re-reading D1 does not re-import. */
let imported = new Map<string, { sealed: string; signsFrom: number | null; key: SigningKey }>();

/** Forgets this isolate's ring: the isolate that changed a key sees the change at once (and tests start afresh). */
export function forgetDatabaseKeyRing(): void {
  cached = undefined;
}

async function importRow(row: SigningKeyRow, secret: string): Promise<SigningKey | undefined> {
  const known = imported.get(row.kid);
  if (known && known.sealed === row.sealedPrivateJwk) return known.signsFrom === row.signsFrom ? known.key : { ...known.key, signsFrom: row.signsFrom };
  const jwk = await unseal<JWK>(secret, PURPOSE, row.sealedPrivateJwk);
  if (!jwk || jwk.kid !== row.kid || jwk.alg !== row.alg) {
    // Sealed under another SECRET_KEY (or altered): skipped, so every other key keeps working.
    logError("database signing key skipped: it does not open with this SECRET_KEY", { kid: row.kid });
    return undefined;
  }
  try {
    const key = (await importJWK(jwk, row.alg)) as CryptoKey;
    const publicJwk = publicPart(jwk);
    const verifyKey = (await importJWK(publicJwk, row.alg)) as CryptoKey;
    return { kid: row.kid, alg: row.alg, key, verifyKey, publicJwk, source: "database", signsFrom: row.signsFrom };
  } catch (err) {
    logError("database signing key skipped: it does not import", { kid: row.kid, ...errorFields(err) });
    return undefined;
  }
}

/** Whether a row's private key opens with `secret` (the console marks the others as skipped). */
export async function opensWithSecret(row: SigningKeyRow, secret: string): Promise<boolean> {
  const jwk = await unseal<JWK>(secret, PURPOSE, row.sealedPrivateJwk);
  return jwk?.kid === row.kid;
}

/** The SECRET_KEY the imported keys were opened with: another one opens them again (or not). */
let importedWith: string | undefined;

async function buildRing(db: Database, source: string, secret: string): Promise<KeyRing> {
  if (importedWith !== secret) {
    imported = new Map();
    importedWith = secret;
  }
  const secretRing = await loadKeyRing(source);
  const rows = await listLiveSigningKeys(db);
  const inSecret = new Set(secretRing.keys.map((k) => k.kid));
  const next = new Map<string, { sealed: string; signsFrom: number | null; key: SigningKey }>();
  const fromDatabase: SigningKey[] = [];
  for (const row of rows) {
    if (inSecret.has(row.kid)) continue;
    const key = await importRow(row, secret);
    if (!key) continue;
    next.set(row.kid, { sealed: row.sealedPrivateJwk, signsFrom: row.signsFrom, key });
    fromDatabase.push(key);
  }
  imported = next;
  const keys = [...secretRing.keys, ...fromDatabase];
  return { keys, jwks: { keys: keys.map((k) => k.publicJwk) } };
}

/**
 * The ring with DATABASE_SIGNING_KEYS on: the secret's keys and the database keys not retired,
 * read from D1 (the primary) at most once per DATABASE_KEY_RING_SECONDS per isolate.
 *
 * When that read fails, an isolate that had a ring keeps it (logged) and tries again after a few
 * seconds; a cold isolate has none and the request fails (500): it neither signs with a key that
 * may no longer be meant to sign, nor refuses the tokens database keys signed as forged
 * (docs/keys.md, "When D1 cannot be read").
 */
export function databaseKeyRing(db: Database, source: string | undefined, secret: string, now = nowSeconds()): Promise<KeyRing> {
  if (!source) return loadKeyRing(source);
  if (cached && cached.source === source && cached.secret === secret && cached.expiresAt > now) return cached.ring;
  const previous = cached && cached.source === source && cached.secret === secret ? cached.last : undefined;
  const ring = buildRing(db, source, secret).then(
    (built) => {
      entry.last = built;
      return built;
    },
    (err: unknown) => {
      if (cached === entry) cached = previous ? { ...entry, expiresAt: now + RETRY_AFTER_FAILURE_SECONDS, ring: Promise.resolve(previous) } : undefined;
      if (!previous) throw err;
      logError("signing keys: D1 could not be read, the previous key ring is kept", errorFields(err));
      return previous;
    },
  );
  const entry: Cached = { source, secret, expiresAt: now + DATABASE_KEY_RING_SECONDS, ring, last: previous };
  cached = entry;
  return entry.ring;
}

// ---- roles ---------------------------------------------------------------------------------

export type KeyRole =
  | { role: "signs" }
  | { role: "published" }
  /** Promoted: signs from `signsFrom`, in the future. */
  | { role: "scheduled"; signsFrom: number }
  /** Signed until `signedUntil`, when a key promoted later took over. */
  | { role: "signed"; signedUntil: number }
  | { role: "retired"; retiredAt: number };

/** The key of each algorithm that signs at `now` among database keys (rows not retired); the secret's key signs the others. */
function databaseSigners(rows: SigningKeyRow[], now: number): Map<string, SigningKeyRow> {
  const signers = new Map<string, SigningKeyRow>();
  for (const row of rows) {
    if (row.retiredAt !== null || row.signsFrom === null || row.signsFrom > now) continue;
    const current = signers.get(row.alg);
    if (!current || row.signsFrom > current.signsFrom!) signers.set(row.alg, row);
  }
  return signers;
}

/** What each database key does at `now`, given every row (retired ones too: they tell when a key's signing ended). */
export function databaseKeyRoles(rows: SigningKeyRow[], now = nowSeconds()): Map<string, KeyRole> {
  const signers = databaseSigners(rows, now);
  const roles = new Map<string, KeyRole>();
  for (const row of rows) {
    if (row.retiredAt !== null) roles.set(row.kid, { role: "retired", retiredAt: row.retiredAt });
    else if (signers.get(row.alg)?.kid === row.kid) roles.set(row.kid, { role: "signs" });
    else if (row.signsFrom === null) roles.set(row.kid, { role: "published" });
    else if (row.signsFrom > now) roles.set(row.kid, { role: "scheduled", signsFrom: row.signsFrom });
    else {
      // Promoted in the past and not the signer: the next key of its algorithm that took over after
      // it (one retired before its time came never did).
      const takeovers = rows
        .filter((r) => r.alg === row.alg && r.signsFrom !== null && r.signsFrom > row.signsFrom! && r.signsFrom <= now && (r.retiredAt === null || r.retiredAt > r.signsFrom))
        .map((r) => r.signsFrom!);
      roles.set(row.kid, { role: "signed", signedUntil: Math.min(...takeovers) });
    }
  }
  return roles;
}

/** Whether a database key signs `alg` at `now` (else the secret's first key of it does). */
export function databaseKeySigns(rows: SigningKeyRow[], alg: string, now = nowSeconds()): boolean {
  return databaseSigners(rows, now).has(alg);
}

// ---- changes -------------------------------------------------------------------------------

/** A new key of `alg`: published (in every isolate within DATABASE_KEY_RING_SECONDS), not signing until promoted. */
export async function addDatabaseKey(db: Database, secret: string, alg: string, now = nowSeconds()): Promise<SigningKeyRow> {
  const jwk = await generateSigningKey(alg);
  const row = await insertSigningKey(db, {
    kid: jwk.kid!,
    alg,
    sealedPrivateJwk: await seal(secret, PURPOSE, jwk),
    publicJwk: publicPart(jwk) as Record<string, unknown>,
    createdAt: now,
  });
  forgetDatabaseKeyRing();
  return row;
}

async function liveRow(db: Database, kid: string, secretKids: readonly string[]): Promise<SigningKeyRow> {
  const row = await findSigningKey(db, kid);
  if (!row) {
    if (secretKids.includes(kid)) {
      throw new KeyChangeRefused(`Key ${kid} is in the SIGNING_KEYS secret: change that set with the admin CLI's keys commands (docs/keys.md); a database key may take over its signing.`);
    }
    throw new KeyChangeRefused(`No database key ${kid}.`);
  }
  if (row.retiredAt !== null) throw new KeyChangeRefused(`Key ${kid} is retired.`);
  return row;
}

/** When a key promoted at `now` may sign: not before every isolate and JWKS cache has it. */
export const promotionTime = (row: Pick<SigningKeyRow, "createdAt">, now: number) => Math.max(now, row.createdAt + PROMOTION_DELAY_SECONDS);

/**
 * Makes a database key the signing key of its algorithm, from `max(now, created_at +
 * PROMOTION_DELAY_SECONDS)`. Refused for a retired key, one that signs or is already promoted, a secret
 * key, and (given `secret`) one that does not open with it.
 */
export async function promoteDatabaseKey(
  db: Database,
  kid: string,
  options: { secretKids?: readonly string[]; now?: number; /** When given, a key that does not open with it is refused. */ secret?: string } = {},
): Promise<SigningKeyRow> {
  const now = options.now ?? nowSeconds();
  const row = await liveRow(db, kid, options.secretKids ?? []);
  if (options.secret !== undefined && !(await opensWithSecret(row, options.secret))) {
    throw new KeyChangeRefused(`Key ${kid} does not open with this SECRET_KEY (sealed under another one): it cannot sign; add a new key instead and retire this one.`);
  }
  const role = databaseKeyRoles(await listAllSigningKeys(db), now).get(kid);
  if (role?.role === "signs") throw new KeyChangeRefused(`Key ${kid} already signs ${row.alg} tokens.`);
  if (role?.role === "scheduled") throw new KeyChangeRefused(`Key ${kid} is already promoted: it signs from ${utcTime(role.signsFrom)}.`);
  const updated = await setSigningKeySignsFrom(db, kid, promotionTime(row, now), row.signsFrom);
  if (!updated) throw new KeyChangeRefused(`Key ${kid} changed meanwhile: look again.`);
  forgetDatabaseKeyRing();
  return updated;
}

/**
 * Removes a database key from the ring (and the JWKS). Refused while it signs, when it is about to
 * sign, and until the longest token lifetime has passed since the last token it may have signed:
 * `signedUntil + DATABASE_KEY_RING_SECONDS` (isolates switch signers within their ring's cache time).
 */
export async function retireDatabaseKey(
  db: Database,
  kid: string,
  options: { lifetime: number; secretKids?: readonly string[]; now?: number },
): Promise<SigningKeyRow> {
  const now = options.now ?? nowSeconds();
  const row = await liveRow(db, kid, options.secretKids ?? []);
  const role = databaseKeyRoles(await listAllSigningKeys(db), now).get(kid)!;
  if (role.role === "signs") throw new KeyChangeRefused(`Key ${kid} signs ${row.alg} tokens: make another ${row.alg} key sign first, then retire this one once its tokens have expired.`);
  if (role.role === "scheduled" && role.signsFrom <= now + DATABASE_KEY_RING_SECONDS) {
    throw new KeyChangeRefused(`Key ${kid} signs from ${utcTime(role.signsFrom)}, within the time isolates keep their keys: retire it once another key has taken over and its tokens have expired.`);
  }
  if (role.role === "signed") {
    const from = retirableFrom(role.signedUntil, options.lifetime);
    if (now < from) {
      throw new KeyChangeRefused(
        `Key ${kid} signed tokens until ${utcTime(role.signedUntil)} that may still be valid (they live up to ${options.lifetime} s): retire it from ${utcTime(from)}.`,
      );
    }
  }
  const retired = await retireSigningKey(db, kid, now, row.signsFrom);
  if (!retired) throw new KeyChangeRefused(`Key ${kid} changed meanwhile: look again.`);
  forgetDatabaseKeyRing();
  return retired;
}

/** When a key that stopped signing at `signedUntil` may be retired: its last token has expired in every isolate's reckoning. */
export const retirableFrom = (signedUntil: number, lifetime: number) => signedUntil + DATABASE_KEY_RING_SECONDS + lifetime;

/** A time as the console and the CLI show it: `2026-12-01 17:05:00 UTC`. */
export function utcTime(seconds: number): string {
  const iso = new Date(seconds * 1000).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
}
