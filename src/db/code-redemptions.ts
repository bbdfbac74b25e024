import { and, eq, lte, sql } from "drizzle-orm";
import type { Database } from "./index";
import { codeRedemptions, refreshTokens } from "./schema";

export type NewCodeRedemption = typeof codeRedemptions.$inferInsert;
export type CodeRedemption = typeof codeRedemptions.$inferSelect;

/** The insert that spends a code: its primary key (the code's hash) makes a second one fail. */
export function insertCodeRedemption(db: Database, redemption: NewCodeRedemption) {
  return db.insert(codeRedemptions).values(redemption);
}

export async function findCodeRedemption(db: Database, codeHash: string): Promise<CodeRedemption | undefined> {
  return db.select().from(codeRedemptions).where(eq(codeRedemptions.codeHash, codeHash)).get();
}

/**
 * Redemption records cleanup may remove: a replay of the code (even expired) must still find its
 * record while the grant it started could have live tokens (RFC 6749 §4.1.2). So a record goes
 * only when its code has expired, its access tokens have (it was redeemed longer ago than an
 * access token lives), and no refresh token of its grant is still unrevoked and unexpired.
 */
export function staleCodeRedemptions(now: number, accessTokenLifetime: number) {
  const r = refreshTokens;
  return and(
    lte(codeRedemptions.expiresAt, now),
    lte(codeRedemptions.redeemedAt, now - accessTokenLifetime),
    sql`NOT EXISTS (SELECT 1 FROM ${r} WHERE ${r.grantId} = ${codeRedemptions.grantId} AND ${r.revokedAt} IS NULL AND ${r.expiresAt} > ${now})`,
  )!;
}
