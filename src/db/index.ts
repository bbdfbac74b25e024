import { drizzle, type DrizzleD1Database } from "drizzle-orm/d1";

export type Database = DrizzleD1Database;

/**
 * A Drizzle database over a D1 binding. No relational schema is passed: the queries use the
 * query builders only, and building the relational config would cost every request CPU time.
 */
export function openDatabase(d1: D1Database): Database {
  return drizzle(d1);
}

