import { and, eq, gt } from "drizzle-orm";
import type { Database } from "./index";
import { sessions, type Session } from "./schema";

/** Records a new browser session (the cookie carries its id). */
export function insertSession(db: Database, session: Session) {
  return db.insert(sessions).values(session);
}

/** The session with this id, while it has not ended or expired. */
export async function findLiveSession(db: Database, sid: string, now: number): Promise<Session | undefined> {
  return db.select().from(sessions).where(and(eq(sessions.id, sid), gt(sessions.expiresAt, now))).get();
}

/** Ends one session (logout): its cookie, and any copy of it, stops working at once. */
export async function deleteSession(db: Database, sid: string): Promise<void> {
  await db.delete(sessions).where(eq(sessions.id, sid)).run();
}

/** Ends every session of a user ("sign out everywhere"); returns how many there were. */
export async function deleteUserSessions(db: Database, userId: string): Promise<number> {
  const rows = await db.delete(sessions).where(eq(sessions.userId, userId)).returning({ id: sessions.id });
  return rows.length;
}
