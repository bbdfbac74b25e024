import { and, eq, isNotNull, lte, notExists, or, sql, type SQL } from "drizzle-orm";
import type { SQLiteTable } from "drizzle-orm/sqlite-core";
import { staleCodeRedemptions } from "./code-redemptions";
import { windowOver } from "./throttle";
import type { Database } from "./index";
import { eventsBefore } from "./audit-events";
import { spentIdsExpiredBy } from "./spent-ids";
import { LOGOUT_MAX_ATTEMPTS, undeliverableSessionClients } from "./session-clients";
import { auditEvents, deviceAuthorizations, spentIds, clients, codeRedemptions, consents, initialAccessTokens, refreshTokens, sessions, sessionClients, signInThrottle } from "./schema";
import type { Settings } from "../core/settings";
import { nowSeconds } from "../core/time";

/** How many rows one statement deletes, so no run holds the database for long. */
export const CLEANUP_BATCH = 500;

export interface CleanupReport {
  refreshTokens: number;
  codeRedemptions: number;
  signInThrottle: number;
  sessionClients: number;
  sessions: number;
  initialAccessTokens: number;
  metadataDocumentClients: number;
  auditEvents: number;
  spentIds: number;
  deviceAuthorizations: number;
}

async function deleteInBatches(db: Database, table: SQLiteTable, where: SQL | undefined, maxBatches: number): Promise<number> {
  let total = 0;
  for (let i = 0; i < maxBatches; i++) {
    // Standard SQLite builds take no LIMIT on DELETE: the batch's rowids come from a subquery.
    const result = await db.run(sql`DELETE FROM ${table} WHERE rowid IN (SELECT rowid FROM ${table} WHERE ${where} LIMIT ${CLEANUP_BATCH})`);
    const deleted = result.meta.changes ?? 0;
    total += deleted;
    if (deleted < CLEANUP_BATCH) break;
  }
  return total;
}

/** How long a metadata document's client row outlives its document's freshness before cleanup may remove it. */
const DOCUMENT_CLIENT_RETENTION_SECONDS = 24 * 3600;

function staleDocumentClients(db: Database, expiredBefore: number): SQL | undefined {
  return and(
    eq(clients.source, "metadata_document"),
    lte(clients.metadataExpiresAt, expiredBefore),
    notExists(db.select({ one: sql`1` }).from(consents).where(eq(consents.clientId, clients.id))),
    notExists(db.select({ one: sql`1` }).from(refreshTokens).where(eq(refreshTokens.clientId, clients.id))),
  );
}

/**
 * DOT's `cleartokens`: removes refresh tokens that expired, or were revoked longer ago than an
 * access token lives (rotated ones stay until they expire: reuse detection needs them); redemption
 * records no replay could still need (`staleCodeRedemptions`); stale sign-in throttling rows; and
 * expired sessions; initial access tokens expired or used up; and clients made from a metadata
 * document that has been stale for a day, once no consent or refresh token refers to them (the
 * next authorization fetches the document again); recent events older than EVENT_HISTORY_DAYS; and
 * expired single-use identifiers and device authorizations.
 * Runs in bounded batches.
 */
export async function clearExpired(db: Database, settings: Settings, now = nowSeconds(), maxBatches = 20): Promise<CleanupReport> {
  const keepUntil = now - Math.max(settings.ACCESS_TOKEN_EXPIRE_SECONDS, settings.REFRESH_TOKEN_GRACE_PERIOD_SECONDS);
  const r = refreshTokens;
  return {
    refreshTokens: await deleteInBatches(db, r, or(lte(r.expiresAt, now), and(isNotNull(r.revokedAt), lte(r.revokedAt, keepUntil))), maxBatches),
    codeRedemptions: await deleteInBatches(db, codeRedemptions, staleCodeRedemptions(now, settings.ACCESS_TOKEN_EXPIRE_SECONDS), maxBatches),
    signInThrottle: await deleteInBatches(db, signInThrottle, windowOver({ now, windowSeconds: settings.LOGIN_LOCKOUT_SECONDS }), maxBatches),
    // Before the expired sessions go: a row of a session that is gone is a logout token to deliver.
    sessionClients: await deleteInBatches(db, sessionClients, undeliverableSessionClients(db, now, LOGOUT_MAX_ATTEMPTS), maxBatches),
    sessions: await deleteInBatches(db, sessions, lte(sessions.expiresAt, now), maxBatches),
    initialAccessTokens: await deleteInBatches(
      db,
      initialAccessTokens,
      or(lte(initialAccessTokens.expiresAt, now), eq(initialAccessTokens.usesLeft, 0)),
      maxBatches,
    ),
    metadataDocumentClients: await deleteInBatches(db, clients, staleDocumentClients(db, now - DOCUMENT_CLIENT_RETENTION_SECONDS), maxBatches),
    auditEvents: await deleteInBatches(db, auditEvents, eventsBefore(now - settings.EVENT_HISTORY_DAYS * 24 * 3600), maxBatches),
    spentIds: await deleteInBatches(db, spentIds, spentIdsExpiredBy(now), maxBatches),
    deviceAuthorizations: await deleteInBatches(db, deviceAuthorizations, lte(deviceAuthorizations.expiresAt, now), maxBatches),
  };
}
