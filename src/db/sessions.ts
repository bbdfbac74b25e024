import { and, eq, gt } from "drizzle-orm";
import { approvalQuery, toApproval, type Approval } from "./consents";
import type { Database } from "./index";
import { sessions, type Session } from "./schema";

/** Records a new browser session (the cookie carries its id). */
export function insertSession(db: Database, session: Session) {
  return db.insert(sessions).values(session);
}

const liveSessionQuery = (db: Database, sid: string, now: number) =>
  db.select().from(sessions).where(and(eq(sessions.id, sid), gt(sessions.expiresAt, now)));

/** The session with this id, while it has not ended or expired. */
export async function findLiveSession(db: Database, sid: string, now: number): Promise<Session | undefined> {
  return liveSessionQuery(db, sid, now).get();
}

/**
 * The live session with this id and, in the same round-trip (one batch), the user's approval of
 * a client: the authorization endpoint needs both for a signed-in user.
 */
export async function findLiveSessionWithApproval(
  db: Database,
  sid: string,
  now: number,
  approvalOf: { userId: string; clientId: string },
): Promise<{ session: Session | undefined; approval: Approval }> {
  const [sessionRows, approvalRows] = await db.batch([
    liveSessionQuery(db, sid, now),
    approvalQuery(db, approvalOf.userId, approvalOf.clientId),
  ]);
  return { session: sessionRows[0], approval: toApproval(approvalRows[0]) };
}

export const deleteSessionQuery = (db: Database, sid: string) => db.delete(sessions).where(eq(sessions.id, sid));

/** Ends one session (logout): its cookie, and any copy of it, stops working at once. */
export async function deleteSession(db: Database, sid: string): Promise<void> {
  await deleteSessionQuery(db, sid).run();
}

/** Ends every session of a user ("sign out everywhere"); returns how many there were. */
export async function deleteUserSessions(db: Database, userId: string): Promise<number> {
  const rows = await db.delete(sessions).where(eq(sessions.userId, userId)).returning({ id: sessions.id });
  return rows.length;
}
