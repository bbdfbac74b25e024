import { and, eq, gte, inArray, isNotNull, lt, notExists, or, sql } from "drizzle-orm";
import type { Database } from "./index";
import { clients, sessionClients, sessions, type Client, type SessionClient } from "./schema";

/** Deliveries of a logout token (each of a few tries) before its row is given up, counting the cron's. */
export const LOGOUT_MAX_ATTEMPTS = 5;

type NewSessionClient = Pick<SessionClient, "sid" | "sessionId" | "clientId" | "userId" | "issuer" | "createdAt">;

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
): NewSessionClient | undefined {
  if (!grant.sid || !grant.scope.includes("openid") || !hasLogoutUri(client)) return undefined;
  return { sid: grant.sid, sessionId: grant.sid, clientId: client.id, userId: grant.userId, issuer, createdAt: now };
}

/** Records that a session signed in to a client (once per pair); a statement for the caller's batch. */
export function recordSessionClientQuery(db: Database, row: NewSessionClient) {
  return db.insert(sessionClients).values(row).onConflictDoNothing();
}

const sessionEnded = (db: Database) =>
  notExists(db.select({ one: sql`1` }).from(sessions).where(eq(sessions.id, sessionClients.sessionId)));

/** The clients of one session that have a front-channel logout URI (read before the session ends). */
export async function frontChannelParties(db: Database, sessionId: string): Promise<SessionRelyingParty[]> {
  return db
    .select({ row: sessionClients, client: clients })
    .from(sessionClients)
    .innerJoin(clients, eq(clients.id, sessionClients.clientId))
    .where(and(eq(sessionClients.sessionId, sessionId), isNotNull(clients.frontchannelLogoutUri)));
}

/**
 * Logout tokens still to deliver: rows of ended sessions (only those of `sessionIds` when given) whose
 * client has a back-channel logout URI and fewer than `maxAttempts` failed deliveries.
 */
export async function pendingBackChannelLogouts(
  db: Database,
  { sessionIds, maxAttempts, limit }: { sessionIds?: readonly string[]; maxAttempts: number; limit: number },
): Promise<SessionRelyingParty[]> {
  if (sessionIds !== undefined && sessionIds.length === 0) return [];
  return db
    .select({ row: sessionClients, client: clients })
    .from(sessionClients)
    .innerJoin(clients, eq(clients.id, sessionClients.clientId))
    .where(
      and(
        sessionIds === undefined ? undefined : inArray(sessionClients.sessionId, [...sessionIds]),
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
  const expiredSession = sql`EXISTS (SELECT 1 FROM ${sessions} WHERE ${sessions.id} = ${sessionClients.sessionId} AND ${sessions.expiresAt} <= ${now})`;
  return or(and(sessionEnded(db), or(clientWithoutUri, gte(sessionClients.logoutAttempts, maxAttempts))), expiredSession)!;
}

/**
 * The same user signed in again in this browser: the new session holds the old one's clients, so
 * their `sid`s are logged out when it ends, and nothing is sent now. Only from a live session:
 * the rows of one already ended are logout tokens still owed. A statement for the batch that
 * replaces the session, before the old session's row goes.
 */
export function moveSessionClientsQuery(db: Database, fromSessionId: string, toSessionId: string, now: number) {
  const live = sql`EXISTS (SELECT 1 FROM ${sessions} WHERE ${sessions.id} = ${fromSessionId} AND ${sessions.expiresAt} > ${now})`;
  return db
    .update(sessionClients)
    .set({ sessionId: toSessionId })
    .where(and(eq(sessionClients.sessionId, fromSessionId), live));
}
