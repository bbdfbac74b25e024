import { and, eq, gt, isNull } from "drizzle-orm";
import type { Database } from "./index";
import { clients, consents, refreshTokens } from "./schema";

/**
 * One application a user has authorized (DOT's "authorized tokens"): their recorded approval
 * (consent) and their live refresh tokens of that client, whichever exist.
 */
export interface Authorization {
  clientId: string;
  clientName: string;
  /** Scopes approved or held by a live refresh token, in the order first seen. */
  scopes: string[];
  /** When the user first approved the client, or the oldest live refresh token was issued. */
  authorizedAt: number;
  /** When the newest live refresh token was issued (by the code exchange or the last refresh). */
  lastIssuedAt: number | null;
  liveRefreshTokens: number;
}

const consentRows = (db: Database, userId: string, clientId?: string) =>
  db
    .select({ clientId: consents.clientId, clientName: clients.name, scope: consents.scope, createdAt: consents.createdAt })
    .from(consents)
    .innerJoin(clients, eq(clients.id, consents.clientId))
    .where(and(eq(consents.userId, userId), clientId === undefined ? undefined : eq(consents.clientId, clientId)));

/** Refresh tokens still usable: not revoked, not expired, not yet rotated away. */
const liveTokenRows = (db: Database, userId: string, now: number, clientId?: string) =>
  db
    .select({ clientId: refreshTokens.clientId, clientName: clients.name, scope: refreshTokens.scope, createdAt: refreshTokens.createdAt })
    .from(refreshTokens)
    .innerJoin(clients, eq(clients.id, refreshTokens.clientId))
    .where(
      and(
        eq(refreshTokens.userId, userId),
        clientId === undefined ? undefined : eq(refreshTokens.clientId, clientId),
        isNull(refreshTokens.revokedAt),
        isNull(refreshTokens.rotatedAt),
        gt(refreshTokens.expiresAt, now),
      ),
    );

type Row = { clientId: string; clientName: string; scope: string; createdAt: number };

function addScopes(into: string[], scope: string): void {
  for (const name of scope.split(" ")) if (name && !into.includes(name)) into.push(name);
}

function mergeAuthorizations(approvals: Row[], tokens: Row[]): Authorization[] {
  const byClient = new Map<string, Authorization>();
  const entryFor = (row: Row) => {
    let entry = byClient.get(row.clientId);
    if (!entry) {
      entry = { clientId: row.clientId, clientName: row.clientName, scopes: [], authorizedAt: row.createdAt, lastIssuedAt: null, liveRefreshTokens: 0 };
      byClient.set(row.clientId, entry);
    }
    return entry;
  };
  for (const row of approvals) {
    const entry = entryFor(row);
    addScopes(entry.scopes, row.scope);
    entry.authorizedAt = row.createdAt;
  }
  for (const row of tokens) {
    const entry = entryFor(row);
    addScopes(entry.scopes, row.scope);
    entry.liveRefreshTokens += 1;
    entry.lastIssuedAt = Math.max(entry.lastIssuedAt ?? 0, row.createdAt);
    if (!approvals.some((a) => a.clientId === row.clientId)) entry.authorizedAt = Math.min(entry.authorizedAt, row.createdAt);
  }
  return [...byClient.values()].sort((a, b) => a.clientName.localeCompare(b.clientName) || a.clientId.localeCompare(b.clientId));
}

/** The applications a user has authorized, by name, in one round-trip. */
export async function listAuthorizations(db: Database, userId: string, now: number): Promise<Authorization[]> {
  const [approvals, tokens] = await db.batch([consentRows(db, userId), liveTokenRows(db, userId, now)]);
  return mergeAuthorizations(approvals, tokens);
}

/** The user's authorization of one client, or undefined when they hold none. */
export async function findAuthorization(db: Database, userId: string, clientId: string, now: number): Promise<Authorization | undefined> {
  const [approvals, tokens] = await db.batch([consentRows(db, userId, clientId), liveTokenRows(db, userId, now, clientId)]);
  return mergeAuthorizations(approvals, tokens)[0];
}

/** Forgets a user's approval of a client: the next authorization asks again. Returns whether there was one. */
export async function deleteConsent(db: Database, userId: string, clientId: string): Promise<boolean> {
  const rows = await db
    .delete(consents)
    .where(and(eq(consents.userId, userId), eq(consents.clientId, clientId)))
    .returning({ clientId: consents.clientId });
  return rows.length > 0;
}
