/**
 * The deployed D1 database, reached through D1's HTTP API with bound parameters:
 * `POST {base}/accounts/{account_id}/d1/database/{database_id}/raw` with `{"sql", "params"}`, or
 * `{"batch": [{"sql", "params"}, ...]}` for Drizzle's `db.batch`. User input travels only as
 * parameters, never inside the SQL text.
 *
 * The account and token come from CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_API_TOKEN (wrangler's
 * names), the base URL from CLOUDFLARE_API_BASE_URL (wrangler honours it too; tests point it at a
 * local fake), the database from wrangler.toml's DB binding. `/raw`, not `/query`: it answers rows
 * as arrays in column order, which is what Drizzle's sqlite-proxy driver takes, and two selected
 * columns of the same name stay two.
 */
import { drizzle } from "drizzle-orm/sqlite-proxy";
import type { Database } from "../../src/db/index";
import { d1DatabaseId } from "./project";

export const DEFAULT_API_BASE_URL = "https://api.cloudflare.com/client/v4";

/** A failure to report as a plain message (no stack): missing settings, an unreachable API, an API error. */
export class RemoteDatabaseError extends Error {
  override name = "RemoteDatabaseError";
}

export interface D1HttpTarget {
  baseUrl: string;
  accountId: string;
  apiToken: string;
  databaseId: string;
}

type Method = "run" | "all" | "values" | "get";
type BoundParam = string | number | null;
interface Statement {
  sql: string;
  params: BoundParam[];
}

/** One statement's answer from `/raw`. */
interface RawResult {
  success?: boolean;
  results?: { columns?: string[]; rows?: unknown[][] };
  meta?: Record<string, unknown>;
}

interface Envelope {
  success?: boolean;
  errors?: { code?: number; message?: string }[];
  result?: RawResult[] | null;
}

/**
 * The target from the environment and wrangler.toml (`databaseId` overrides the latter); names
 * what is missing.
 */
export function remoteTarget(env: NodeJS.ProcessEnv = process.env, databaseId?: string): D1HttpTarget {
  const missing = ["CLOUDFLARE_ACCOUNT_ID", "CLOUDFLARE_API_TOKEN"].filter((name) => !env[name]);
  if (missing.length) {
    throw new RemoteDatabaseError(
      `--remote needs ${missing.join(" and ")} in the environment (an API token with D1 Edit permission)`,
    );
  }
  databaseId ??= d1DatabaseId();
  if (!databaseId) throw new RemoteDatabaseError("wrangler.toml has no database_id for the D1 binding DB");
  return {
    baseUrl: (env.CLOUDFLARE_API_BASE_URL || DEFAULT_API_BASE_URL).replace(/\/+$/, ""),
    accountId: env.CLOUDFLARE_ACCOUNT_ID!,
    apiToken: env.CLOUDFLARE_API_TOKEN!,
    databaseId,
  };
}

/** A parameter as JSON the API binds: text, a number, or null (booleans as SQLite's 0 and 1). */
function boundParam(value: unknown): BoundParam {
  if (value === null || value === undefined) return null;
  if (typeof value === "boolean") return value ? 1 : 0;
  if (typeof value === "string") return value;
  if (typeof value === "number" && Number.isFinite(value)) return value;
  throw new RemoteDatabaseError(`cannot send a ${typeof value} parameter (${String(value)}) to D1's HTTP API`);
}

const statement = (sql: string, params: readonly unknown[]): Statement => ({ sql, params: params.map(boundParam) });

function apiErrors(envelope: Envelope | undefined): string {
  return (envelope?.errors ?? []).map((e) => [e.code, e.message].filter((part) => part !== undefined).join(": ")).join("; ");
}

/** Why fetch failed, e.g. ECONNREFUSED (undici puts it in the cause). */
function networkReason(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
}

/** Posts one request to `/raw`; returns one result per statement, or throws the API's own error. */
async function post(target: D1HttpTarget, body: Statement | { batch: Statement[] }, count: number): Promise<RawResult[]> {
  const url = `${target.baseUrl}/accounts/${encodeURIComponent(target.accountId)}/d1/database/${encodeURIComponent(target.databaseId)}/raw`;
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { authorization: `Bearer ${target.apiToken}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  } catch (error) {
    throw new RemoteDatabaseError(`cannot reach the Cloudflare API at ${target.baseUrl}: ${networkReason(error)}`);
  }
  const envelope = (await response.json().catch(() => undefined)) as Envelope | undefined;
  if (!response.ok || envelope?.success !== true || !Array.isArray(envelope.result)) {
    const detail = apiErrors(envelope) || response.statusText || "no error message";
    throw new RemoteDatabaseError(`the D1 API refused the query (HTTP ${response.status}): ${detail}`);
  }
  if (envelope.result.length !== count || envelope.result.some((r) => r.success === false)) {
    throw new RemoteDatabaseError(`the D1 API answered ${envelope.result.length} results for ${count} statements, or a failed one`);
  }
  return envelope.result;
}

/**
 * A statement's result as the proxy driver wants it: positional rows, the first row for `get`, and
 * for `run` the D1 driver's own shape (the functions in src/db read `meta.changes`).
 */
function proxyResult(method: Method, result: RawResult): { rows: unknown[] } {
  const rows = result.results?.rows ?? [];
  if (method === "run") return { rows: [], results: [], success: true, meta: result.meta ?? {} } as { rows: unknown[] };
  if (method === "get") return { rows: rows[0] } as { rows: unknown[] };
  return { rows };
}

/**
 * A Drizzle database over D1's HTTP API. The functions in src/db take the D1 driver's `Database`
 * type; the sqlite-proxy database has the same async SQLite query builder, hence the cast.
 */
export function remoteDatabase(target: D1HttpTarget): Database {
  const db = drizzle(
    async (sql, params, method) => proxyResult(method, (await post(target, statement(sql, params), 1))[0]!),
    async (queries) => {
      const results = await post(target, { batch: queries.map((q) => statement(q.sql, q.params)) }, queries.length);
      return queries.map((q, i) => proxyResult(q.method, results[i]!));
    },
  );
  return db as unknown as Database;
}

/** The deployed database named DB in wrangler.toml, with the credentials of the environment. */
export function openRemoteDatabase(env: NodeJS.ProcessEnv = process.env): Database {
  return remoteDatabase(remoteTarget(env));
}
