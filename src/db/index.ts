import { drizzle, type DrizzleD1Database } from "drizzle-orm/d1";

export type Database = DrizzleD1Database;

/**
 * A Drizzle database over a D1 binding. No relational schema is passed: the queries use the
 * query builders only, and building the relational config would cost every request CPU time.
 */
export function openDatabase(d1: D1Database): Database {
  return drizzle(d1);
}

/** D1's unique-constraint error, also when Drizzle wraps it (a DrizzleQueryError with the D1 error as `cause`). */
export function isUniqueViolation(err: unknown): boolean {
  for (let e = err, depth = 0; e !== undefined && e !== null && depth < 5; e = (e as Error).cause, depth++) {
    if (/UNIQUE constraint failed/i.test(String((e as Error).message ?? e))) return true;
  }
  return false;
}

/**
 * A D1 bookmark as D1 writes them (hex groups joined by dashes, e.g.
 * `00000000-0000000b-00004f2a-4c5d…`). Anything else is not handed to D1.
 */
const BOOKMARK = /^[0-9a-f]{8}(?:-[0-9a-f]{8,64}){1,7}$/;

export function isBookmark(value: unknown): value is string {
  return typeof value === "string" && value.length <= 160 && BOOKMARK.test(value);
}

/** A Drizzle database over one D1 Sessions API session, and the session's latest bookmark. */
export interface DatabaseSession {
  db: Database;
  /** The bookmark of the latest query through this session (null before the first). */
  bookmark(): string | null;
}

/**
 * A Drizzle database over a D1 session (D1's Sessions API, `withSession`): reads may be answered
 * by a nearby replica that is at least as new as `from` (a bookmark), or any replica
 * (`"first-unconstrained"`), or the primary for the first query (`"first-primary"`). Writes always
 * go to the primary, and the session's bookmark then covers them.
 *
 * Drizzle's D1 driver calls only `prepare` and `batch`, which a session has (it has no `exec` or
 * `dump`, which these queries never use), so the session stands in for the binding.
 */
export function openSession(d1: D1Database, from: string): DatabaseSession {
  const session = d1.withSession(from);
  return { db: drizzle(session as unknown as D1Database), bookmark: () => session.getBookmark() };
}

/**
 * The same database, read through a session that any replica may answer: for loads where a
 * replica's lag is covered by a documented window (client records, cached per isolate; see
 * docs/consistency.md). Falls back to `db` itself when its client has no Sessions API.
 */
export function nearbyReplica(db: Database): Database {
  const client = (db as Database & { $client?: Partial<D1Database> }).$client;
  if (typeof client?.withSession !== "function") return db;
  return openSession(client as D1Database, "first-unconstrained").db;
}
