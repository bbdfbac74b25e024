/**
 * A small fake of the Cloudflare API in the test process, for the admin CLI's `--remote`:
 * D1's `/raw` query endpoint (one statement or a batch) runs the SQL for real in SQLite
 * (`node:sqlite`) with the project's migrations applied, binding the parameters it was sent; and
 * KV's `PUT .../values/KEY`, which `wrangler kv key put --remote` uses, is recorded.
 * Every request is kept, so tests can check what arrived as SQL and what as parameters.
 */
import { readdirSync, readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { DatabaseSync, type SQLInputValue } from "node:sqlite";
import { ROOT } from "../../../scripts/lib/project";

export const FAKE_ACCOUNT_ID = "0123456789abcdef0123456789abcdef";
export const FAKE_API_TOKEN = "fake-token-for-tests";
/** wrangler.toml's database_id and KV namespace id (placeholders the fake accepts). */
export const DATABASE_ID = "00000000-0000-0000-0000-000000000000";
export const KV_NAMESPACE_ID = "00000000000000000000000000000000";

export interface ReceivedStatement {
  sql: string;
  params: unknown[];
}

export interface FakeCloudflareApi {
  /** Ready for CLOUDFLARE_API_BASE_URL (ends in /client/v4). */
  baseUrl: string;
  /** The environment that points the CLI at this fake. */
  env: Record<string, string>;
  db: DatabaseSync;
  /** Every statement received, in order, as sent. */
  statements: ReceivedStatement[];
  /** How many D1 requests carried a batch, and how many a single statement. */
  requests: { batch: number; single: number };
  kvPuts: { key: string; value: string; ttl: string | null }[];
  /** Requests to paths the fake does not serve. */
  unknown: string[];
  close(): Promise<void>;
}

type Envelope = { success: boolean; errors: { code: number; message: string }[]; messages: []; result: unknown };
const envelope = (result: unknown): Envelope => ({ success: true, errors: [], messages: [], result });
const refusal = (code: number, message: string): Envelope => ({ success: false, errors: [{ code, message }], messages: [], result: null });

/** A fresh in-memory database with every migration of migrations/ applied, in order. */
export function migratedDatabase(): DatabaseSync {
  const db = new DatabaseSync(":memory:");
  db.exec("PRAGMA foreign_keys = ON"); // as D1 enforces them
  const dir = join(ROOT, "migrations");
  for (const file of readdirSync(dir).filter((name) => name.endsWith(".sql")).sort()) {
    db.exec(readFileSync(join(dir, file), "utf8"));
  }
  return db;
}

function isParam(value: unknown): value is SQLInputValue {
  return value === null || typeof value === "string" || typeof value === "number";
}

/** One statement as `/raw` answers it: columns, rows as arrays, and meta with `changes`. */
function runStatement(db: DatabaseSync, { sql, params }: ReceivedStatement) {
  if (!params.every(isParam)) throw new Error("params must be strings, numbers or null");
  const prepared = db.prepare(sql);
  const columns = prepared.columns().map((c) => c.name);
  if (columns.length) {
    prepared.setReturnArrays(true);
    const rows = prepared.all(...params) as unknown as unknown[][];
    return { success: true, results: { columns, rows }, meta: { changes: 0, rows_read: rows.length } };
  }
  const { changes, lastInsertRowid } = prepared.run(...params);
  return { success: true, results: { columns: [], rows: [] }, meta: { changes: Number(changes), last_row_id: Number(lastInsertRowid) } };
}

/** A batch runs as one transaction, as D1 runs it. */
function runBatch(db: DatabaseSync, batch: ReceivedStatement[]) {
  db.exec("BEGIN");
  try {
    const results = batch.map((s) => runStatement(db, s));
    db.exec("COMMIT");
    return results;
  } catch (error) {
    db.exec("ROLLBACK");
    throw error;
  }
}

async function body(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function send(response: ServerResponse, status: number, answer: Envelope): void {
  response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(answer));
}

export async function startFakeCloudflareApi(): Promise<FakeCloudflareApi> {
  const db = migratedDatabase();
  const statements: ReceivedStatement[] = [];
  const requests = { batch: 0, single: 0 };
  const kvPuts: FakeCloudflareApi["kvPuts"] = [];
  const unknown: string[] = [];
  const account = `/client/v4/accounts/${FAKE_ACCOUNT_ID}`;

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? "/", "http://fake");
    if (request.headers.authorization !== `Bearer ${FAKE_API_TOKEN}`) return send(response, 403, refusal(10000, "Authentication error"));
    if (request.method === "POST" && url.pathname === `${account}/d1/database/${DATABASE_ID}/raw`) {
      const query = JSON.parse(await body(request)) as { sql?: string; params?: unknown[]; batch?: { sql: string; params?: unknown[] }[] };
      const batch = (query.batch ?? [{ sql: query.sql ?? "", params: query.params }]).map((s) => ({ sql: s.sql, params: s.params ?? [] }));
      requests[query.batch ? "batch" : "single"]++;
      statements.push(...batch);
      try {
        return send(response, 200, envelope(runBatch(db, batch)));
      } catch (error) {
        return send(response, 400, refusal(7500, `${(error as Error).message}: SQLITE_ERROR`));
      }
    }
    const kvPrefix = `${account}/storage/kv/namespaces/${KV_NAMESPACE_ID}/values/`;
    if (request.method === "PUT" && url.pathname.startsWith(kvPrefix)) {
      kvPuts.push({ key: decodeURIComponent(url.pathname.slice(kvPrefix.length)), value: await body(request), ttl: url.searchParams.get("expiration_ttl") });
      return send(response, 200, envelope(null));
    }
    unknown.push(`${request.method} ${url.pathname}`);
    send(response, 404, refusal(7003, `No route for ${request.method} ${url.pathname}`));
  }

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => send(response, 500, refusal(10001, String(error))));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/client/v4`;
  return {
    baseUrl,
    env: { CLOUDFLARE_API_BASE_URL: baseUrl, CLOUDFLARE_ACCOUNT_ID: FAKE_ACCOUNT_ID, CLOUDFLARE_API_TOKEN: FAKE_API_TOKEN },
    db,
    statements,
    requests,
    kvPuts,
    unknown,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
        db.close();
      }),
  };
}
