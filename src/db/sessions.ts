import { and, eq, gt } from "drizzle-orm";
import { approvalQuery, NOTHING_APPROVED, toApproval, type Approval } from "./consents";
import type { Database } from "./index";
import { sessions, type Session, type User } from "./schema";
import { userByIdQuery } from "./users";

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
 * What a signed-in request reads, in one round-trip (one batch): the live session with this id,
 * with `approvalOf` the user's approval of a client (the authorization endpoint), and with
 * `userRow` the user's row of the built-in `users` table.
 */
export async function findSignedInRecords(
  db: Database,
  sid: string,
  now: number,
  { userId, approvalOf, userRow }: { userId: string; approvalOf?: string; userRow: boolean },
): Promise<{ session: Session | undefined; approval: Approval; user: User | undefined }> {
  const session = liveSessionQuery(db, sid, now);
  const user = userByIdQuery(db, userId);
  if (approvalOf !== undefined) {
    const approval = approvalQuery(db, userId, approvalOf);
    if (userRow) {
      const [s, a, u] = await db.batch([session, approval, user]);
      return { session: s[0], approval: toApproval(a[0]), user: u[0] };
    }
    const [s, a] = await db.batch([session, approval]);
    return { session: s[0], approval: toApproval(a[0]), user: undefined };
  }
  if (userRow) {
    const [s, u] = await db.batch([session, user]);
    return { session: s[0], approval: NOTHING_APPROVED, user: u[0] };
  }
  return { session: await session.get(), approval: NOTHING_APPROVED, user: undefined };
}

export const deleteSessionQuery = (db: Database, sid: string) => db.delete(sessions).where(eq(sessions.id, sid));

/** Ends one session (logout): its cookie, and any copy of it, stops working at once. */
export async function deleteSession(db: Database, sid: string): Promise<void> {
  await deleteSessionQuery(db, sid).run();
}

/** Ends every session of a user ("sign out everywhere"); returns their ids. */
export async function deleteUserSessions(db: Database, userId: string): Promise<string[]> {
  const rows = await db.delete(sessions).where(eq(sessions.userId, userId)).returning({ id: sessions.id });
  return rows.map((row) => row.id);
}
