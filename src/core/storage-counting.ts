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
}

export const newStorageCounts = (): StorageCounts => ({ d1: 0, d1Statements: 0, kv: 0 });

export function formatStorageCounts(counts: StorageCounts): string {
  return `d1=${counts.d1}, d1_statements=${counts.d1Statements}, kv=${counts.kv}`;
}

const realStatements = new WeakMap<object, D1PreparedStatement>();

function countingStatement(stmt: D1PreparedStatement, counts: StorageCounts): D1PreparedStatement {
  const counted = <T>(run: () => Promise<T>): Promise<T> => {
    counts.d1++;
    counts.d1Statements++;
    return run();
  };
  const wrapper = {
    bind: (...values: unknown[]) => countingStatement(stmt.bind(...values), counts),
    first: (column?: string) => counted(() => (column === undefined ? stmt.first() : stmt.first(column))),
    run: () => counted(() => stmt.run()),
    all: () => counted(() => stmt.all()),
    raw: (options?: { columnNames?: boolean }) =>
      counted(() => (options?.columnNames ? stmt.raw({ columnNames: true }) : stmt.raw())),
  } as unknown as D1PreparedStatement;
  realStatements.set(wrapper, stmt);
  return wrapper;
}

export function countingD1(db: D1Database, counts: StorageCounts): D1Database {
  return {
    prepare: (query: string) => countingStatement(db.prepare(query), counts),
    batch: (statements: D1PreparedStatement[]) => {
      counts.d1++;
      counts.d1Statements += statements.length;
      return db.batch(statements.map((s) => realStatements.get(s) ?? s));
    },
    exec: (query: string) => {
      counts.d1++;
      counts.d1Statements++;
      return db.exec(query);
    },
    withSession: (...args: Parameters<D1Database["withSession"]>) => db.withSession(...args),
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
