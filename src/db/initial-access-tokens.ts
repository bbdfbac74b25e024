import { and, eq, gt, isNull, or, sql } from "drizzle-orm";
import { base64url, fromBase64url, hashSecret, hex, randomToken } from "../core/crypto";
import { nowSeconds } from "../core/time";
import type { Database } from "./index";
import { initialAccessTokens, type InitialAccessToken } from "./schema";

/**
 * RFC 7591 §3 initial access tokens: with DYNAMIC_REGISTRATION=token, registering a client needs
 * one. The admin CLI issues them; only their hash is stored, and an operator names one by its
 * short id, the start of that hash (never the token).
 */

/**
 * The short id: the hash's first 6 bytes (its first 8 base64url characters) in hex, 12
 * characters. Hex, because a base64url id may start with "-", which a command line takes for an option.
 */
export function initialTokenId(row: Pick<InitialAccessToken, "tokenHash">): string {
  return hex(fromBase64url(row.tokenHash.slice(0, 8)));
}

/** The start of the stored hash that a short id stands for; undefined when `id` is not one. */
function hashPrefixOf(id: string): string | undefined {
  if (!/^[0-9a-f]{12}$/i.test(id)) return undefined;
  return base64url(Uint8Array.from(id.match(/../g)!, (pair) => parseInt(pair, 16)));
}

export type InitialTokenState = "usable" | "expired" | "used_up";

export function initialTokenState(row: InitialAccessToken, now = nowSeconds()): InitialTokenState {
  if (row.expiresAt !== null && row.expiresAt <= now) return "expired";
  if (row.usesLeft !== null && row.usesLeft <= 0) return "used_up";
  return "usable";
}

export interface NewInitialAccessToken {
  /** How many clients it may register; null or absent: any number until it expires. */
  uses?: number | null;
  /** Seconds from now; null or absent: it never expires. */
  expiresInSeconds?: number | null;
  note?: string;
}

/** A new token, returned once: only its hash is stored. */
export async function createInitialAccessToken(
  db: Database,
  options: NewInitialAccessToken,
  now = nowSeconds(),
): Promise<{ token: string; row: InitialAccessToken }> {
  const token = randomToken(32);
  const [row] = await db
    .insert(initialAccessTokens)
    .values({
      tokenHash: await hashSecret(token),
      note: options.note ?? "",
      usesLeft: options.uses ?? null,
      expiresAt: options.expiresInSeconds == null ? null : now + options.expiresInSeconds,
      createdAt: now,
    })
    .returning();
  return { token, row: row! };
}

export function listInitialAccessTokens(db: Database): Promise<InitialAccessToken[]> {
  return db.select().from(initialAccessTokens).orderBy(initialAccessTokens.createdAt, initialAccessTokens.tokenHash).all();
}

const usableAt = (now: number) =>
  and(
    or(isNull(initialAccessTokens.usesLeft), gt(initialAccessTokens.usesLeft, 0)),
    or(isNull(initialAccessTokens.expiresAt), gt(initialAccessTokens.expiresAt, now)),
  );

/** The token with this hash if it may still register a client (checked before the request's metadata). */
export function findUsableInitialAccessToken(db: Database, tokenHash: string, now = nowSeconds()): Promise<InitialAccessToken | undefined> {
  return db
    .select()
    .from(initialAccessTokens)
    .where(and(eq(initialAccessTokens.tokenHash, tokenHash), usableAt(now)))
    .get();
}

/**
 * Spends one use of the token, in one statement: the check and the decrement cannot be split by a
 * concurrent registration, so a token of N uses registers at most N clients. False when it is
 * unknown, expired or used up.
 */
export async function spendInitialAccessToken(db: Database, tokenHash: string, now = nowSeconds()): Promise<boolean> {
  const rows = await db
    .update(initialAccessTokens)
    .set({ usesLeft: sql`${initialAccessTokens.usesLeft} - 1` })
    .where(and(eq(initialAccessTokens.tokenHash, tokenHash), usableAt(now)))
    .returning({ tokenHash: initialAccessTokens.tokenHash });
  return rows.length > 0;
}

/**
 * Deletes the token of this short id. Case matters in the stored hash (base64url), so the match
 * is on `substr`, not `LIKE`.
 */
export async function revokeInitialAccessToken(db: Database, id: string): Promise<"revoked" | "not_found" | "ambiguous"> {
  const prefix = hashPrefixOf(id);
  if (prefix === undefined) return "not_found";
  const matching = await db
    .select({ tokenHash: initialAccessTokens.tokenHash })
    .from(initialAccessTokens)
    .where(sql`substr(${initialAccessTokens.tokenHash}, 1, ${prefix.length}) = ${prefix}`)
    .all();
  if (matching.length === 0) return "not_found";
  if (matching.length > 1) return "ambiguous";
  await db.delete(initialAccessTokens).where(eq(initialAccessTokens.tokenHash, matching[0]!.tokenHash));
  return "revoked";
}
