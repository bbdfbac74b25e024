import { and, eq, isNull, sql } from "drizzle-orm";
import type { Database } from "./index";
import { refreshTokens, users, type RefreshToken } from "./schema";

export type NewRefreshToken = typeof refreshTokens.$inferInsert;

/** The token with this hash, and whether its user (in the built-in store) is active. */
export async function findRefreshToken(
  db: Database,
  tokenHash: string,
): Promise<(RefreshToken & { userActive: boolean | null }) | undefined> {
  const row = await db
    .select({ token: refreshTokens, userActive: users.isActive })
    .from(refreshTokens)
    .leftJoin(users, eq(users.id, refreshTokens.userId))
    .where(eq(refreshTokens.tokenHash, tokenHash))
    .get();
  return row ? { ...row.token, userActive: row.userActive } : undefined;
}

export function insertRefreshToken(db: Database, token: NewRefreshToken) {
  return db.insert(refreshTokens).values(token);
}

/**
 * Rotation in one batch: mark the old token replaced, and insert the new one only if this
 * request is the one that marked it. Of two concurrent rotations exactly one inserts.
 * Returns false when this request lost (the old token was rotated or revoked meanwhile).
 */
export async function rotateRefreshToken(
  db: Database,
  oldId: string,
  next: NewRefreshToken & { id: string },
  graceSeconds: number,
): Promise<boolean> {
  const now = next.createdAt;
  const stillUsable =
    graceSeconds > 0
      ? sql`(${refreshTokens.rotatedAt} IS NULL OR ${refreshTokens.rotatedAt} > ${now - graceSeconds})`
      : isNull(refreshTokens.rotatedAt);
  const claim = db
    .update(refreshTokens)
    // The grace period counts from the first rotation: reuses within it do not extend it.
    .set({ rotatedAt: sql`COALESCE(${refreshTokens.rotatedAt}, ${now})`, replacedBy: next.id })
    .where(and(eq(refreshTokens.id, oldId), isNull(refreshTokens.revokedAt), stillUsable));
  // The new row is selected from the old one only if this request's claim took it.
  const value = (v: string | number | null) => sql`${v}`;
  const insert = db.insert(refreshTokens).select(
    db
      .select({
        id: value(next.id).as("id"),
        tokenHash: value(next.tokenHash).as("token_hash"),
        grantId: value(next.grantId).as("grant_id"),
        clientId: value(next.clientId).as("client_id"),
        userId: value(next.userId).as("user_id"),
        scope: value(next.scope).as("scope"),
        authTime: value(next.authTime ?? null).as("auth_time"),
        details: value(next.details ? JSON.stringify(next.details) : null).as("details"),
        createdAt: value(next.createdAt).as("created_at"),
        expiresAt: value(next.expiresAt).as("expires_at"),
        rotatedAt: value(null).as("rotated_at"),
        replacedBy: value(null).as("replaced_by"),
        revokedAt: value(null).as("revoked_at"),
      })
      .from(refreshTokens)
      .where(and(eq(refreshTokens.id, oldId), eq(refreshTokens.replacedBy, next.id))),
  );
  const [, inserted] = await db.batch([claim, insert]);
  return (inserted as { meta: { changes: number } }).meta.changes === 1;
}

/** Revokes every refresh token of a grant (a family). */
export function revokeRefreshFamily(db: Database, grantId: string, now: number) {
  return db
    .update(refreshTokens)
    .set({ revokedAt: now })
    .where(and(eq(refreshTokens.grantId, grantId), isNull(refreshTokens.revokedAt)));
}

/** Revokes every live refresh token of a user for one client; returns the grant ids they belonged to. */
export async function revokeUserClientRefreshTokens(db: Database, userId: string, clientId: string, now: number): Promise<string[]> {
  const rows = await db
    .update(refreshTokens)
    .set({ revokedAt: now })
    .where(and(eq(refreshTokens.userId, userId), eq(refreshTokens.clientId, clientId), isNull(refreshTokens.revokedAt)))
    .returning({ grantId: refreshTokens.grantId });
  return [...new Set(rows.map((row) => row.grantId))];
}

/** Revokes every live refresh token of a client (a compromised client, or a revoke-all by an operator). */
export async function revokeClientRefreshTokens(db: Database, clientId: string, now: number): Promise<number> {
  const rows = await db
    .update(refreshTokens)
    .set({ revokedAt: now })
    .where(and(eq(refreshTokens.clientId, clientId), isNull(refreshTokens.revokedAt)))
    .returning({ id: refreshTokens.id });
  return rows.length;
}
