/**
 * `--remote`: the admin CLI reaches the deployed D1 through D1's HTTP API with bound parameters.
 * Here the API is a fake in this process (support/fake-cloudflare-api.ts) that runs the SQL in
 * SQLite with the project's migrations, so rows are real and every statement's SQL text and
 * parameters can be inspected: user input must arrive as parameters, never inside the SQL.
 */
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clearExpired } from "../../src/db/cleanup";
import { findClient } from "../../src/db/clients";
import { registerClient } from "../../src/db/registration";
import { parseSettings } from "../../src/core/settings";
import { refreshTokens } from "../../src/db/schema";
import { RemoteDatabaseError, remoteDatabase, remoteTarget, type D1HttpTarget } from "../../scripts/lib/remote-db";
import { adminProcess, cliEnv, type Run } from "./support/admin";
import { DATABASE_ID, startFakeCloudflareApi, type FakeCloudflareApi } from "./support/fake-cloudflare-api";
import { freePort } from "./support/server";

let api: FakeCloudflareApi;
let target: D1HttpTarget;

beforeAll(async () => {
  api = await startFakeCloudflareApi();
  target = remoteTarget(api.env, DATABASE_ID);
});
afterAll(() => api.close());

const remote = (args: string[], env: Record<string, string> = api.env): Promise<Run> =>
  adminProcess([...args, "--remote"], { ...cliEnv, ...env });

function parsed<T>(run: Run): T {
  if (run.code !== 0) throw new Error(`admin exited ${run.code}:\n${run.stderr}${run.stdout}`);
  return JSON.parse(run.stdout) as T;
}

/** Every SQL text the fake received, joined, to search for user input that must not be there. */
const allSql = () => api.statements.map((s) => s.sql).join("\n");
const allParams = () => api.statements.flatMap((s) => s.params);

/** Input an attacker would pick: quotes, a statement break, a comment, unicode. */
const HOSTILE_NAME = `O'Brien "Zoë" 日本 🙂'); DROP TABLE clients; --`;
const HOSTILE_CLAIM = `Ada "Byron" O'Hara'); DELETE FROM users; --`;
const HOSTILE_PASSWORD = `pw'); DROP TABLE users; --`;

describe("admin CLI --remote through D1's HTTP API (a fake that runs the SQL in SQLite)", () => {
  it("client create, client list --json, user create and client revoke-tokens act on the remote rows, input only as parameters", { timeout: 120_000 }, async () => {
    const [created, user] = await Promise.all([
      remote(["client", "create", "--name", HOSTILE_NAME, "--type", "confidential", "--grant-types", "client_credentials", "--scope", "read", "--json"]),
      remote([
        "user", "create", "--username", "zoe.ohara+1@example", "--password", HOSTILE_PASSWORD,
        "--email", "zoe@example.com", "--claims", JSON.stringify({ name: HOSTILE_CLAIM }), "--json",
      ]),
    ]);
    const client = parsed<{ client_id: string; name: string; client_secret: string }>(created);
    expect(client.name).toBe(HOSTILE_NAME);
    expect(created.stderr).toMatch(/Acting on the REMOTE \(deployed\) database/);
    expect(parsed<{ username: string }>(user)).toMatchObject({ username: "zoe.ohara+1@example", email: "zoe@example.com" });

    const listed = await remote(["client", "list", "--json"]);
    expect(parsed<{ client_id: string; name: string }[]>(listed)).toEqual([expect.objectContaining({ client_id: client.client_id, name: HOSTILE_NAME })]);

    // The rows are in the fake's SQLite, exactly as typed; no table was dropped.
    expect(api.db.prepare("SELECT name FROM clients WHERE id = ?").get(client.client_id)).toEqual({ name: HOSTILE_NAME });
    const stored = api.db.prepare("SELECT claims, password_hash FROM users WHERE username = ?").get("zoe.ohara+1@example") as Record<string, string>;
    expect(JSON.parse(stored.claims!)).toEqual({ name: HOSTILE_CLAIM });
    expect(stored.password_hash).not.toContain(HOSTILE_PASSWORD);

    // Input travelled as parameters only.
    for (const input of [HOSTILE_NAME, HOSTILE_CLAIM, HOSTILE_PASSWORD, "O'Brien", "DROP TABLE", "DELETE FROM users", client.client_id]) {
      expect(allSql()).not.toContain(input);
    }
    expect(allParams()).toContain(HOSTILE_NAME);
    expect(allParams()).toContain(client.client_id);
    expect(allParams()).toContain(JSON.stringify({ name: HOSTILE_CLAIM }));

    // The client's revocation note goes through `wrangler kv key put --remote` to the same API.
    const revoked = await remote(["client", "revoke-tokens", client.client_id, "--json"]);
    expect(parsed(revoked)).toMatchObject({ client_id: client.client_id, refresh_tokens_revoked: 0 });
    expect(api.kvPuts).toEqual([{ key: `revoked:client:${client.client_id}`, value: expect.stringMatching(/^\d+$/), ttl: "3600" }]);
    expect(api.unknown).toEqual([]);
  });

  it("initial-token create, list and revoke act on the remote rows: the note only as a parameter, the token never sent", { timeout: 120_000 }, async () => {
    const created = parsed<{ id: string; token: string; note: string }>(await remote(["initial-token", "create", "--uses", "1", "--note", HOSTILE_NAME, "--json"]));
    expect(created.note).toBe(HOSTILE_NAME);
    const row = api.db.prepare("SELECT token_hash, note, uses_left FROM initial_access_tokens").get() as Record<string, unknown>;
    expect(row).toMatchObject({ note: HOSTILE_NAME, uses_left: 1 });
    expect(row.token_hash).not.toBe(created.token);
    expect(allParams()).not.toContain(created.token);
    expect(allSql()).not.toContain("DROP TABLE");

    const listed = parsed<Record<string, unknown>[]>(await remote(["initial-token", "list", "--json"]));
    expect(listed).toEqual([expect.objectContaining({ id: created.id, note: HOSTILE_NAME, uses_left: 1, state: "usable" })]);
    expect(parsed(await remote(["initial-token", "revoke", created.id, "--json"]))).toEqual({ id: created.id, revoked: true });
    expect(api.db.prepare("SELECT count(*) AS n FROM initial_access_tokens").get()).toEqual({ n: 0 });
  });

  it("reports missing credentials and API errors as one plain line (no stack), exit 1, and JSON with --json", { timeout: 60_000 }, async () => {
    const withoutToken = { ...cliEnv, ...api.env, CLOUDFLARE_API_TOKEN: "" };
    const [missing, refused] = await Promise.all([
      adminProcess(["client", "list", "--remote", "--json"], withoutToken),
      remote(["client", "list"], { ...api.env, CLOUDFLARE_API_TOKEN: "wrong" }),
    ]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error: --remote needs CLOUDFLARE_API_TOKEN in the environment/m);
    expect(JSON.parse(missing.stdout)).toEqual({ error: { message: expect.stringMatching(/CLOUDFLARE_API_TOKEN/), exit_code: 1 } });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: the D1 API refused the query \(HTTP 403\): 10000: Authentication error$/m);
    for (const run of [missing, refused]) expect(run.stderr).not.toMatch(/\n\s+at |Failed query/);
  });
});

describe("remoteDatabase (the driver under --remote)", () => {
  it("sends each statement's values as bound parameters and maps positional rows back", async () => {
    const db = remoteDatabase(target);
    const before = api.statements.length;
    const rows = await db.all<[string, number]>(sql`SELECT ${"it's; --"} AS a, ${42} AS a`);
    // Two columns of the same name stay two (the /raw endpoint answers arrays).
    expect(rows).toEqual([["it's; --", 42]]);
    expect(api.statements.slice(before)).toEqual([{ sql: "SELECT ? AS a, ? AS a", params: ["it's; --", 42] }]);
    expect(await findClient(db, "no such client")).toBeUndefined();
  });

  it("runs db.batch as one request and reports changes of run (cleartokens counts deleted rows)", async () => {
    const db = remoteDatabase(target);
    const batches = api.requests.batch;
    const [one, two] = await db.batch([db.run(sql`SELECT ${1}`), db.all<[number]>(sql`SELECT ${2} AS n`)]);
    expect(api.requests.batch).toBe(batches + 1);
    expect(two).toEqual([[2]]);
    expect(one).toMatchObject({ meta: expect.any(Object) });

    const { client } = await registerClient(db, { name: "Expiring", clientType: "confidential", grantTypes: ["client_credentials"] });
    const expired = (id: string) => ({ id, tokenHash: `hash-${id}`, grantId: `grant-${id}`, clientId: client.id, userId: "u", scope: "", createdAt: 0, expiresAt: 1 });
    await db.insert(refreshTokens).values([expired("r1"), expired("r2")]);
    const report = await clearExpired(db, parseSettings({}));
    expect(report.refreshTokens).toBe(2);
    expect(await db.select().from(refreshTokens)).toEqual([]);
  });

  it("turns API errors, unreachable APIs and missing settings into RemoteDatabaseError", async () => {
    const failing = remoteDatabase(target).run(sql`SELECT * FROM no_such_table WHERE x = ${"y"}`);
    await expect(failing).rejects.toThrow(expect.objectContaining({ cause: expect.any(RemoteDatabaseError) }));
    await expect(failing.catch((e: Error) => Promise.reject(e.cause))).rejects.toThrow(/HTTP 400\): 7500: no such table: no_such_table/);

    const closed = `http://127.0.0.1:${await freePort()}/client/v4`;
    const nowhere = remoteDatabase({ ...target, baseUrl: closed });
    await expect(nowhere.run(sql`SELECT 1`).catch((e: Error) => Promise.reject(e.cause))).rejects.toThrow(`cannot reach the Cloudflare API at ${closed}: ECONNREFUSED`);

    expect(() => remoteTarget({}, DATABASE_ID)).toThrow(/needs CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_API_TOKEN/);
    expect(() => remoteTarget(api.env, "")).toThrow(/no database_id/);
    expect(remoteTarget({ CLOUDFLARE_ACCOUNT_ID: "a", CLOUDFLARE_API_TOKEN: "t" }, "d").baseUrl).toBe("https://api.cloudflare.com/client/v4");
    expect(remoteTarget({ ...api.env, CLOUDFLARE_API_BASE_URL: "http://x/client/v4/" }, "d").baseUrl).toBe("http://x/client/v4");
  });
});
