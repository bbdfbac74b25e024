import { and, eq, gte, inArray, isNotNull, lt, notExists, or, sql } from "drizzle-orm";
import type { Database } from "./index";
import { clients, sessionClients, sessions, type Client, type SessionClient } from "./schema";

/** Deliveries of a logout token (each of a few tries) before its row is given up, counting the cron's. */
export const LOGOUT_MAX_ATTEMPTS = 5;

/** A relying party of a session, with what logout needs of the client. */
export interface SessionRelyingParty {
  row: SessionClient;
  client: Client;
}

/** Whether a client takes part in logout at all: only those rows are recorded. */
export const hasLogoutUri = (client: Pick<Client, "backchannelLogoutUri" | "frontchannelLogoutUri">) =>
  client.backchannelLogoutUri !== null || client.frontchannelLogoutUri !== null;

/**
 * The row to record when a client receives an ID token from a browser session: only for OpenID
 * requests made in a session, by clients with a logout URI. Undefined otherwise.
 */
export function logoutPartyOf(
  client: Client,
  grant: { sid?: string; userId: string; scope: readonly string[] },
  issuer: string,
  now: number,
): Pick<SessionClient, "sid" | "clientId" | "userId" | "issuer" | "createdAt"> | undefined {
  if (!grant.sid || !grant.scope.includes("openid") || !hasLogoutUri(client)) return undefined;
  return { sid: grant.sid, clientId: client.id, userId: grant.userId, issuer, createdAt: now };
}

/** Records that a session signed in to a client (once per pair); a statement for the caller's batch. */
export function recordSessionClientQuery(db: Database, row: Pick<SessionClient, "sid" | "clientId" | "userId" | "issuer" | "createdAt">) {
  return db.insert(sessionClients).values(row).onConflictDoNothing();
}

const sessionEnded = (db: Database) =>
  notExists(db.select({ one: sql`1` }).from(sessions).where(eq(sessions.id, sessionClients.sid)));

/** The clients of one session that have a front-channel logout URI (read before the session ends). */
export async function frontChannelParties(db: Database, sid: string): Promise<SessionRelyingParty[]> {
  return db
    .select({ row: sessionClients, client: clients })
    .from(sessionClients)
    .innerJoin(clients, eq(clients.id, sessionClients.clientId))
    .where(and(eq(sessionClients.sid, sid), isNotNull(clients.frontchannelLogoutUri)));
}

/**
 * Logout tokens still to deliver: rows of ended sessions (only those of `sids` when given) whose
 * client has a back-channel logout URI and fewer than `maxAttempts` failed deliveries.
 */
export async function pendingBackChannelLogouts(
  db: Database,
  { sids, maxAttempts, limit }: { sids?: readonly string[]; maxAttempts: number; limit: number },
): Promise<SessionRelyingParty[]> {
  if (sids !== undefined && sids.length === 0) return [];
  return db
    .select({ row: sessionClients, client: clients })
    .from(sessionClients)
    .innerJoin(clients, eq(clients.id, sessionClients.clientId))
    .where(
      and(
        sids === undefined ? undefined : inArray(sessionClients.sid, [...sids]),
        isNotNull(clients.backchannelLogoutUri),
        lt(sessionClients.logoutAttempts, maxAttempts),
        sessionEnded(db),
      ),
    )
    .limit(limit);
}

const rowKey = (row: Pick<SessionClient, "sid" | "clientId">) => and(eq(sessionClients.sid, row.sid), eq(sessionClients.clientId, row.clientId));

/** Forgets delivered rows; counts a failed attempt on the others. One batch. */
export async function settleBackChannelLogouts(
  db: Database,
  delivered: readonly Pick<SessionClient, "sid" | "clientId">[],
  failed: readonly Pick<SessionClient, "sid" | "clientId">[],
): Promise<void> {
  const statements = [
    ...delivered.map((row) => db.delete(sessionClients).where(rowKey(row))),
    ...failed.map((row) =>
      db
        .update(sessionClients)
        .set({ logoutAttempts: sql`${sessionClients.logoutAttempts} + 1` })
        .where(rowKey(row)),
    ),
  ];
  const [first, ...rest] = statements;
  if (first) await db.batch([first, ...rest]);
}

/**
 * Cleanup's condition: rows nobody will deliver — of ended sessions whose client has no back-channel
 * URI (any more) or that failed `maxAttempts` times, and of sessions that expired (an expiry is
 * not a logout).
 */
export function undeliverableSessionClients(db: Database, now: number, maxAttempts: number) {
  const clientWithoutUri = notExists(
    db
      .select({ one: sql`1` })
      .from(clients)
      .where(and(eq(clients.id, sessionClients.clientId), isNotNull(clients.backchannelLogoutUri))),
  );
  const expiredSession = sql`EXISTS (SELECT 1 FROM ${sessions} WHERE ${sessions.id} = ${sessionClients.sid} AND ${sessions.expiresAt} <= ${now})`;
  return or(and(sessionEnded(db), or(clientWithoutUri, gte(sessionClients.logoutAttempts, maxAttempts))), expiredSession)!;
}
