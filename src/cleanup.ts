import { sql, type SQL } from "drizzle-orm";
import { staleCodeRedemptions } from "./db/code-redemptions";
import type { Database } from "./db/index";
import type { Settings } from "./settings";

/** How many rows one statement deletes, so no run holds the database for long. */
export const CLEANUP_BATCH = 500;

export interface CleanupReport {
  refreshTokens: number;
  codeRedemptions: number;
  signInThrottle: number;
  sessions: number;
}

async function deleteInBatches(db: Database, table: string, where: SQL, maxBatches: number): Promise<number> {
  let total = 0;
  for (let i = 0; i < maxBatches; i++) {
    const result = await db.run(
      sql`DELETE FROM ${sql.identifier(table)} WHERE rowid IN (SELECT rowid FROM ${sql.identifier(table)} WHERE ${where} LIMIT ${CLEANUP_BATCH})`,
    );
    const deleted = result.meta.changes ?? 0;
    total += deleted;
    if (deleted < CLEANUP_BATCH) break;
  }
  return total;
}

/**
 * DOT's `cleartokens`: removes refresh tokens that expired, or were revoked longer ago than an
 * access token lives (rotated ones stay until they expire: reuse detection needs them); redemption
 * records no replay could still need (`staleCodeRedemptions`); stale sign-in throttling rows; and
 * expired sessions. Runs in bounded batches.
 */
export async function clearExpired(db: Database, settings: Settings, now = Math.floor(Date.now() / 1000), maxBatches = 20): Promise<CleanupReport> {
  const keepUntil = now - Math.max(settings.ACCESS_TOKEN_EXPIRE_SECONDS, settings.REFRESH_TOKEN_GRACE_PERIOD_SECONDS);
  const refreshTokens = await deleteInBatches(
    db,
    "refresh_tokens",
    sql`expires_at <= ${now} OR (revoked_at IS NOT NULL AND revoked_at <= ${keepUntil})`,
    maxBatches,
  );
  const codeRedemptions = await deleteInBatches(
    db,
    "code_redemptions",
    staleCodeRedemptions(now, settings.ACCESS_TOKEN_EXPIRE_SECONDS),
    maxBatches,
  );
  const signInThrottle = await deleteInBatches(
    db,
    "sign_in_throttle",
    sql`window_started_at <= ${now - settings.LOGIN_LOCKOUT_SECONDS} AND (locked_until IS NULL OR locked_until <= ${now})`,
    maxBatches,
  );
  const sessions = await deleteInBatches(db, "sessions", sql`expires_at <= ${now}`, maxBatches);
  return { refreshTokens, codeRedemptions, signInThrottle, sessions };
}
