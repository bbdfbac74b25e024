import { and, eq, gt, isNull, sql } from "drizzle-orm";
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

export interface RotationClaim {
  tokenHash: string;
  clientId: string;
  now: number;
  graceSeconds: number;
  /** Scopes the request names: each must be among the token's (a refresh may narrow, never widen). */
  scopes: readonly string[];
  /**
   * Resources the request names (RFC 8707): each must be among the token's, its details'
   * `resources` or, for a token stored without them, `defaultResource` (narrow, never widen).
   */
  resources: readonly string[];
  defaultResource: string;
  /** Require an active user in the built-in users table (hosts with their own store check it themselves). */
  activeInUsersTable: boolean;
  /** The thumbprint of the request's DPoP key: a token bound to a key (`jkt`) is claimed only with that key's proof. */
  jkt: string | null;
  /** The new token: its id, hash and expiry; everything else (its key binding too) is copied from the old one. */
  next: { id: string; tokenHash: string; expiresAt: number };
}

export type RefreshTokenState = "usable" | "revoked" | "expired" | "reused";

/**
 * Whether a refresh token may still be used, in TypeScript: the same rule the claim below states
 * in SQL (not revoked, not expired, not rotated longer ago than the grace period), for saying why
 * a token was refused and for introspection.
 */
export function refreshTokenState(row: Pick<RefreshToken, "revokedAt" | "expiresAt" | "rotatedAt">, now: number, graceSeconds: number): RefreshTokenState {
  if (row.revokedAt !== null) return "revoked";
  if (row.expiresAt <= now) return "expired";
  if (row.rotatedAt !== null && now - row.rotatedAt >= graceSeconds) return "reused";
  return "usable";
}

/**
 * A refresh, rotated in one D1 batch (one round-trip, two statements):
 * 1. claim the presented token: mark it replaced, but only if it is this client's, live, not
 *    rotated (beyond the grace period), bound to no key or to the request's DPoP key, covers the
 *    requested scopes and resources, and its user is active;
 * 2. insert the new token, copied from the old one, only if this request's claim took it.
 * Of two concurrent rotations exactly one claims. Returns the old row when this request claimed
 * it, undefined otherwise (then `findRefreshToken` tells why).
 */
export async function claimAndRotateRefreshToken(db: Database, r: RotationClaim): Promise<RefreshToken | undefined> {
  const t = refreshTokens;
  const stillUsable =
    r.graceSeconds > 0 ? sql`(${t.rotatedAt} IS NULL OR ${t.rotatedAt} > ${r.now - r.graceSeconds})` : isNull(t.rotatedAt);
  // instr() on space-padded strings: an exact token match (scope tokens contain no spaces).
  const hasScopes = r.scopes.map((scope) => sql`instr(' ' || ${t.scope} || ' ', ${` ${scope} `}) > 0`);
  const hasResources = r.resources.map((resource) => {
    const listed = sql`EXISTS (SELECT 1 FROM json_each(${t.details}, '$.resources') WHERE value = ${resource})`;
    return resource === r.defaultResource ? sql`(${listed} OR json_type(${t.details}, '$.resources') IS NULL)` : listed;
  });
  const activeUser = r.activeInUsersTable
    ? [sql`EXISTS (SELECT 1 FROM ${users} WHERE ${users.id} = ${t.userId} AND ${users.isActive} = 1)`]
    : [];
  const sameKey = r.jkt === null ? isNull(t.jkt) : sql`(${t.jkt} IS NULL OR ${t.jkt} = ${r.jkt})`;
  const claim = db
    .update(t)
    // The grace period counts from the first rotation: reuses within it do not extend it.
    .set({ rotatedAt: sql`COALESCE(${t.rotatedAt}, ${r.now})`, replacedBy: r.next.id })
    .where(
      and(eq(t.tokenHash, r.tokenHash), eq(t.clientId, r.clientId), isNull(t.revokedAt), gt(t.expiresAt, r.now), stillUsable, sameKey, ...hasScopes, ...hasResources, ...activeUser),
    )
    .returning();
  const value = (v: string | number | null) => sql`${v}`;
  const insert = db.insert(t).select(
    db
      .select({
        id: value(r.next.id).as("id"),
        tokenHash: value(r.next.tokenHash).as("token_hash"),
        grantId: t.grantId,
        clientId: t.clientId,
        userId: t.userId,
        scope: t.scope,
        authTime: t.authTime,
        details: t.details,
        createdAt: value(r.now).as("created_at"),
        expiresAt: value(r.next.expiresAt).as("expires_at"),
        rotatedAt: value(null).as("rotated_at"),
        replacedBy: value(null).as("replaced_by"),
        revokedAt: value(null).as("revoked_at"),
        jkt: t.jkt,
      })
      .from(t)
      .where(and(eq(t.tokenHash, r.tokenHash), eq(t.replacedBy, r.next.id))),
  );
  const [claimed] = await db.batch([claim, insert]);
  return claimed[0];
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

/**
 * Revokes every refresh token of a user not revoked yet, of every client (disabled user, new
 * password); returns how many, and the grants they belonged to.
 */
export async function revokeUserRefreshTokens(db: Database, userId: string, now: number): Promise<{ count: number; grantIds: string[] }> {
  const rows = await db
    .update(refreshTokens)
    .set({ revokedAt: now })
    .where(and(eq(refreshTokens.userId, userId), isNull(refreshTokens.revokedAt)))
    .returning({ grantId: refreshTokens.grantId });
  return { count: rows.length, grantIds: [...new Set(rows.map((row) => row.grantId))] };
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
