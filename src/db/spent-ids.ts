import { lte } from "drizzle-orm";
import { hashSecret } from "../core/crypto";
import type { Database } from "./index";
import { spentIds } from "./schema";

/** What a single-use identifier is: each kind has its own namespace. */
export type SpentIdKind = "par" | "client_assertion" | "dpop" | "device_code";

/**
 * Spends `value` of `kind` until `expiresAt` (Unix seconds): true the first time, false when it was
 * spent already, also under concurrency (one insert at the primary decides). Only its hash is kept.
 */
export async function spendOnce(db: Database, kind: SpentIdKind, value: string, expiresAt: number): Promise<boolean> {
  const id = `${kind}:${await hashSecret(value)}`;
  const rows = await db.insert(spentIds).values({ id, expiresAt }).onConflictDoNothing().returning({ id: spentIds.id });
  return rows.length > 0;
}

/**
 * The insert that spends an identifier already hashed (a device code's hash), to run in a batch:
 * a second one fails with D1's unique-constraint error, and the whole batch with it.
 */
export function spendHashedId(db: Database, kind: SpentIdKind, hash: string, expiresAt: number) {
  return db.insert(spentIds).values({ id: `${kind}:${hash}`, expiresAt });
}

/** Cleanup's condition: identifiers past their lifetime (a replay would be refused as expired anyway). */
export const spentIdsExpiredBy = (now: number) => lte(spentIds.expiresAt, now);
