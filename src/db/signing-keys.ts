import { and, asc, eq, isNull, type SQL } from "drizzle-orm";
import type { Database } from "./index";
import { signingKeys, type SigningKeyRow } from "./schema";

/**
 * The signing keys kept in D1 (DATABASE_SIGNING_KEYS). Rows are never deleted: a retired key keeps
 * its row, so the console and the CLI can tell what signed when. The decisions (when a key may
 * sign, when it may be retired) are in `tokens/database-keys.ts`; these are the queries.
 */

/** The keys not retired, oldest first: what the key ring is built from (one round-trip). */
export function listLiveSigningKeys(db: Database): Promise<SigningKeyRow[]> {
  return db.select().from(signingKeys).where(isNull(signingKeys.retiredAt)).orderBy(asc(signingKeys.createdAt), asc(signingKeys.kid)).all();
}

/** Every key, retired ones included, oldest first (the console and `db-keys list`). */
export function listAllSigningKeys(db: Database): Promise<SigningKeyRow[]> {
  return db.select().from(signingKeys).orderBy(asc(signingKeys.createdAt), asc(signingKeys.kid)).all();
}

export function findSigningKey(db: Database, kid: string): Promise<SigningKeyRow | undefined> {
  return db.select().from(signingKeys).where(eq(signingKeys.kid, kid)).get();
}

export async function insertSigningKey(db: Database, row: typeof signingKeys.$inferInsert): Promise<SigningKeyRow> {
  const [inserted] = await db.insert(signingKeys).values(row).returning();
  return inserted!;
}

/** `signs_from` of a key not retired, if it is still what the caller checked (`expected`); the updated row, or undefined. */
export async function setSigningKeySignsFrom(db: Database, kid: string, signsFrom: number, expected: number | null): Promise<SigningKeyRow | undefined> {
  const [row] = await db
    .update(signingKeys)
    .set({ signsFrom })
    .where(and(eq(signingKeys.kid, kid), isNull(signingKeys.retiredAt), sameSignsFrom(expected)))
    .returning();
  return row;
}

/** Retires a key not yet retired, if its `signs_from` is still what the caller checked; the updated row, or undefined. */
export async function retireSigningKey(db: Database, kid: string, at: number, expected: number | null): Promise<SigningKeyRow | undefined> {
  const [row] = await db
    .update(signingKeys)
    .set({ retiredAt: at })
    .where(and(eq(signingKeys.kid, kid), isNull(signingKeys.retiredAt), sameSignsFrom(expected)))
    .returning();
  return row;
}

function sameSignsFrom(expected: number | null): SQL {
  return expected === null ? isNull(signingKeys.signsFrom) : eq(signingKeys.signsFrom, expected);
}
