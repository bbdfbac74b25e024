/**
 * Counting wrappers around the D1 and KV bindings. Every request gets its own counter, so the
 * storage round-trips of a request are a figure that tests assert and the benchmark prints.
 */

export interface StorageCounts {
  /** D1 round-trips: one per statement run alone, one per batch. */
  d1: number;
  /** D1 statements, counting each statement inside a batch. */
  d1Statements: number;
  /** KV operations (get, put, delete, list). */
  kv: number;
  /**
   * Of the D1 round-trips, those that go to the primary: through the binding itself, any write,
   * and the first query of a `withSession("first-primary")` session.
   */
  d1Primary: number;
  /**
   * Of the D1 round-trips, the reads D1 may answer from a nearby read replica: through a Sessions
   * API session (`withSession(bookmark)`, `"first-unconstrained"`, or a `"first-primary"` one after
   * its first query). Locally (Miniflare) every one is answered by the primary all the same.
   */
  d1Replica: number;
}

export const newStorageCounts = (): StorageCounts => ({ d1: 0, d1Statements: 0, kv: 0, d1Primary: 0, d1Replica: 0 });

/** `d1=N, d1_statements=N, kv=N, d1_primary=N, d1_replica=N` (new figures are appended, never inserted). */
export function formatStorageCounts(counts: StorageCounts): string {
  return `d1=${counts.d1}, d1_statements=${counts.d1Statements}, kv=${counts.kv}, d1_primary=${counts.d1Primary}, d1_replica=${counts.d1Replica}`;
}

/** Where a round-trip may be answered; decided when it is sent, from the SQL it carries. */
type Route = (sql: readonly string[]) => "primary" | "replica";

const atPrimary: Route = () => "primary";

/** A statement that only reads (Drizzle writes `select …`); anything else is a write, which D1 sends to the primary. */
const isRead = (sql: string) => /^\s*select\b/i.test(sql);

function countRoundTrip(counts: StorageCounts, route: Route, sql: readonly string[]): void {
  counts.d1++;
  counts.d1Statements += sql.length;
  if (route(sql) === "primary") counts.d1Primary++;
  else counts.d1Replica++;
}

const realStatements = new WeakMap<object, { stmt: D1PreparedStatement; sql: string }>();

function countingStatement(stmt: D1PreparedStatement, sql: string, counts: StorageCounts, route: Route): D1PreparedStatement {
  const counted = <T>(run: () => Promise<T>): Promise<T> => {
    countRoundTrip(counts, route, [sql]);
    return run();
  };
  const wrapper = {
    bind: (...values: unknown[]) => countingStatement(stmt.bind(...values), sql, counts, route),
    first: (column?: string) => counted(() => (column === undefined ? stmt.first() : stmt.first(column))),
    run: () => counted(() => stmt.run()),
    all: () => counted(() => stmt.all()),
    raw: (options?: { columnNames?: boolean }) =>
      counted(() => (options?.columnNames ? stmt.raw({ columnNames: true }) : stmt.raw())),
  } as unknown as D1PreparedStatement;
  realStatements.set(wrapper, { stmt, sql });
  return wrapper;
}

function countingBatch(batch: D1Database["batch"], counts: StorageCounts, route: Route): D1Database["batch"] {
  return ((statements: D1PreparedStatement[]) => {
    const real = statements.map((s) => realStatements.get(s) ?? { stmt: s, sql: "" });
    countRoundTrip(
      counts,
      route,
      real.map((r) => r.sql),
    );
    return batch(real.map((r) => r.stmt));
  }) as D1Database["batch"];
}

/**
 * A session's round-trips: a write goes to the primary, and so does the first query of a
 * `"first-primary"` session; every other read may be answered by a replica.
 */
function countingSession(session: D1DatabaseSession, constraint: string | undefined, counts: StorageCounts): D1DatabaseSession {
  let sent = false;
  const route: Route = (sql) => {
    const first = !sent;
    sent = true;
    if (!sql.every(isRead)) return "primary";
    return first && constraint === "first-primary" ? "primary" : "replica";
  };
  return {
    prepare: (query: string) => countingStatement(session.prepare(query), query, counts, route),
    batch: countingBatch(session.batch.bind(session), counts, route),
    getBookmark: () => session.getBookmark(),
  } as D1DatabaseSession;
}

export function countingD1(db: D1Database, counts: StorageCounts): D1Database {
  return {
    prepare: (query: string) => countingStatement(db.prepare(query), query, counts, atPrimary),
    batch: countingBatch(db.batch.bind(db), counts, atPrimary),
    exec: (query: string) => {
      countRoundTrip(counts, atPrimary, [query]);
      return db.exec(query);
    },
    withSession: (constraintOrBookmark?: string) => countingSession(db.withSession(constraintOrBookmark), constraintOrBookmark, counts),
    dump: () => db.dump(),
  } as D1Database;
}

export function countingKV(kv: KVNamespace, counts: StorageCounts): KVNamespace {
  const count =
    <A extends unknown[], R>(fn: (...args: A) => R) =>
    (...args: A): R => {
      counts.kv++;
      return fn(...args);
    };
  return {
    get: count(kv.get.bind(kv)),
    getWithMetadata: count(kv.getWithMetadata.bind(kv)),
    put: count(kv.put.bind(kv)),
    delete: count(kv.delete.bind(kv)),
    list: count(kv.list.bind(kv)),
  } as unknown as KVNamespace;
}
