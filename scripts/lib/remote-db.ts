/**
 * The deployed D1 database, reached through `wrangler d1 execute DB --remote --json --command SQL`.
 *
 * Drizzle's `sqlite-proxy` driver hands us each statement with `?` placeholders and its
 * parameters; wrangler's `--command` takes plain SQL only, so the parameters are inlined as
 * SQLite literals (`sqliteLiteral`) at the placeholders (`inlineParams`), which skips anything
 * quoted or commented. Each statement is one wrangler run.
 */
import { drizzle } from "drizzle-orm/sqlite-proxy";
import type { Database } from "../../src/db/index";
import * as schema from "../../src/db/schema";
import { DB_BINDING, runWrangler } from "./project";

/** A value as an SQLite literal: NULL, an integer or real, 'text' with quotes doubled, or X'blob'. */
export function sqliteLiteral(value: unknown): string {
  if (value === null || value === undefined) return "NULL";
  if (typeof value === "boolean") return value ? "1" : "0";
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new TypeError(`cannot store ${value} in SQLite`);
    if (Object.is(value, -0)) return "0";
    // String() gives "1e+21" or "1.5e-7" for extreme values; SQLite reads both as reals.
    return String(value);
  }
  if (typeof value === "string") {
    if (value.includes("\0")) throw new TypeError("text values may not contain NUL characters");
    return `'${value.replace(/'/g, "''")}'`;
  }
  if (value instanceof Uint8Array || value instanceof ArrayBuffer) {
    return `X'${Buffer.from(value instanceof ArrayBuffer ? new Uint8Array(value) : value).toString("hex")}'`;
  }
  throw new TypeError(`cannot inline a value of type ${typeof value} as an SQLite literal`);
}

/**
 * Replaces each `?` placeholder of `sql` with the next parameter's literal. Placeholders inside
 * 'strings', "identifiers", `identifiers`, [identifiers], -- comments and block comments are
 * left alone. Numbered or named parameters (?1, :name, @name, $name) are rejected: Drizzle does
 * not produce them, and inlining them positionally would be wrong.
 */
export function inlineParams(sql: string, params: readonly unknown[]): string {
  let out = "";
  let next = 0;
  let i = 0;
  const closers: Record<string, string> = { "'": "'", '"': '"', "`": "`", "[": "]" };
  while (i < sql.length) {
    const ch = sql[i]!;
    const closer = closers[ch];
    if (closer) {
      // Quoted: copy through the closing quote; a doubled quote is an escaped quote (not for []).
      let j = i + 1;
      for (;;) {
        const end = sql.indexOf(closer, j);
        if (end === -1) throw new SyntaxError(`unterminated ${ch} in SQL`);
        if (closer !== "]" && sql[end + 1] === closer) {
          j = end + 2;
          continue;
        }
        j = end + 1;
        break;
      }
      out += sql.slice(i, j);
      i = j;
    } else if (ch === "-" && sql[i + 1] === "-") {
      const end = sql.indexOf("\n", i);
      const j = end === -1 ? sql.length : end + 1;
      out += sql.slice(i, j);
      i = j;
    } else if (ch === "/" && sql[i + 1] === "*") {
      const end = sql.indexOf("*/", i + 2);
      const j = end === -1 ? sql.length : end + 2;
      out += sql.slice(i, j);
      i = j;
    } else if (ch === "?") {
      if (/[0-9]/.test(sql[i + 1] ?? "")) throw new SyntaxError("numbered parameters (?NNN) are not supported");
      if (next >= params.length) throw new RangeError(`SQL has more placeholders than the ${params.length} parameters`);
      out += sqliteLiteral(params[next++]);
      i++;
    } else if ((ch === ":" || ch === "@" || ch === "$") && /[A-Za-z_]/.test(sql[i + 1] ?? "")) {
      throw new SyntaxError(`named parameters (${ch}name) are not supported`);
    } else {
      out += ch;
      i++;
    }
  }
  if (next !== params.length) throw new RangeError(`SQL has ${next} placeholders but ${params.length} parameters`);
  return out;
}

/** Runs one SQL statement with `wrangler d1 execute`; returns its result rows (objects). */
export type SqlExecutor = (sql: string) => Promise<Record<string, unknown>[]>;

/**
 * An executor for `wrangler d1 execute DB <target> --json --command SQL`, where `target` is
 * `["--remote"]` for the deployed database (or `["--local", "--persist-to", dir]`).
 */
export function wranglerExecutor(target: string[]): SqlExecutor {
  return async (sql) => {
    const result = await runWrangler(["d1", "execute", DB_BINDING, ...target, "--json", "--command", sql]);
    let parsed: unknown;
    try {
      parsed = JSON.parse(result.stdout);
    } catch {
      parsed = undefined;
    }
    if (result.code !== 0 || !Array.isArray(parsed)) {
      const error = (parsed as { error?: { text?: string; message?: string } } | undefined)?.error;
      const detail = error?.text ?? error?.message ?? (result.stderr.trim() || result.stdout.trim());
      throw new Error(`wrangler d1 execute failed (exit ${result.code}): ${detail}`);
    }
    const first = parsed[0] as { results?: Record<string, unknown>[]; success?: boolean } | undefined;
    if (first && first.success === false) throw new Error(`D1 query failed: ${JSON.stringify(first)}`);
    return first?.results ?? [];
  };
}

/**
 * A Drizzle database over an executor. The functions in src/db take the D1 driver's `Database`
 * type; the sqlite-proxy database has the same async SQLite query builder, hence the cast.
 *
 * Rows come back from wrangler as objects whose keys are in the SELECT's column order (Drizzle
 * always lists the columns it selects); `Object.values` turns them into the positional rows the
 * proxy driver expects.
 */
export function proxyDatabase(execute: SqlExecutor): Database {
  const db = drizzle(
    async (sql, params, method) => {
      const rows = await execute(inlineParams(sql, params));
      if (method === "run") return { rows: [] };
      if (method === "get") return { rows: rows[0] ? Object.values(rows[0]) : undefined } as { rows: unknown[] };
      return { rows: rows.map((row) => Object.values(row)) };
    },
    { schema },
  );
  return db as unknown as Database;
}

/** The deployed database named DB in wrangler.toml (needs `wrangler login` or CLOUDFLARE_API_TOKEN). */
export function openRemoteDatabase(): Database {
  return proxyDatabase(wranglerExecutor(["--remote"]));
}
