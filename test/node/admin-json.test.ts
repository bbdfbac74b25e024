/**
 * `--json` prints exactly one JSON document on stdout for every command, on success and on error
 * (`{"error": {"message", "exit_code"}}`), also with the `.dev.vars` that `npm start` writes
 * (wrangler announced "Using secrets defined in .dev.vars" on stdout before). The commands come
 * from the CLI's own table: a command without a successful --json case here fails the first test.
 *
 * Process starts cost seconds each, so the command lines run in three batch processes
 * (support/admin-batch.ts: `main` with the real process streams, captured per command line, one
 * local database per batch), and two as plain CLI processes for the entry point.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commands } from "../../scripts/admin";
import { ROOT } from "../../scripts/lib/project";
import { generateSigningKeySet } from "../../src/tokens/generate-keys";
import { addKey, parseKeySet, type KeySet } from "../../src/tokens/key-rotation";
import { adminBatch, adminProcess, cliEnv } from "./support/admin";
import type { BatchResult } from "./support/admin-batch";

const devVars = join(ROOT, ".dev.vars");
const dir = mkdtempSync(join(tmpdir(), "eot-admin-json-"));
const state = ["--persist-to", join(dir, "state")];
const keyFile = join(dir, "keys.json");
/** No Cloudflare credentials, whatever the environment holds: `--remote` must fail plainly. */
const env = { ...cliEnv, CLOUDFLARE_ACCOUNT_ID: "", CLOUDFLARE_API_TOKEN: "" };
let wroteDevVars = false;
/** The key file's RS256 keys: the one signing now, and one added but not signing yet. */
let kids: { oldRs: string; newRs: string };

beforeAll(async () => {
  // The project's own .dev.vars when there is one (npm start wrote it); else one as npm start writes it.
  if (!existsSync(devVars)) {
    const secret = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
    writeFileSync(devVars, `SIGNING_KEYS='${JSON.stringify(await generateSigningKeySet())}'\nSECRET_KEY='${secret}'\n`, { mode: 0o600 });
    wroteDevVars = true;
  }
  const set: KeySet = parseKeySet(JSON.stringify(await generateSigningKeySet()));
  const { set: withNew, kid } = await addKey(set, "RS256");
  kids = { oldRs: set.keys.find((k) => k.alg === "RS256")!.kid!, newRs: kid };
  writeFileSync(keyFile, JSON.stringify(withNew));
});

afterAll(() => {
  if (wroteDevVars) rmSync(devVars, { force: true });
  rmSync(dir, { recursive: true, force: true });
});

const json = (args: string[]) => [...args, "--json"];
const CONFIDENTIAL = ["client", "create", "--name", "Json", "--type", "confidential", "--grant-types", "client_credentials", ...state];
const PUBLIC = ["client", "create", "--name", "Spa", "--type", "public", "--grant-types", "authorization_code", "--redirect-uris", "https://spa.example/cb", ...state];
const ADA = ["user", "create", "--username", "ada", "--password", "a long password", "--claims", '{"name":"Ada"}', ...state];

/** The command of a command line: its first two words, or its first (as the CLI finds it). */
function commandOf(args: string[]): string | undefined {
  const words = args.filter((a) => !a.startsWith("-"));
  return [words.slice(0, 2).join(" "), words[0]].find((name) => name !== undefined && name in commands);
}

/** Every result's stdout is one JSON document: the result, or the error with the exit code. */
function checkDocuments(results: BatchResult[]): unknown[] {
  return results.map(({ args, code, stdout, stderr }) => {
    let document: unknown;
    expect(() => (document = JSON.parse(stdout)), `${args.join(" ")}: stdout is not one JSON document:\n${stdout}`).not.toThrow();
    if (code === 0) {
      expect(document, args.join(" ")).not.toHaveProperty("error");
    } else {
      expect(document, args.join(" ")).toEqual({ error: { message: expect.any(String), exit_code: code } });
      expect(stderr, args.join(" ")).toMatch(/^error: /m);
    }
    return document;
  });
}

let first: BatchResult[];
let second: BatchResult[];
let clients: { confidential: string; public: string; doomed: string };
let initialTokenId: string;
let databaseKid: string;

describe("admin CLI --json with the project's .dev.vars", () => {
  it("every command of the CLI's table prints one JSON document on success", { timeout: 240_000 }, async () => {
    first = await adminBatch(
      [
        ["user", "list", ...state],
        CONFIDENTIAL,
        PUBLIC,
        PUBLIC,
        ["client", "list", ...state],
        ["initial-token", "create", "--uses", "2", "--expires-in", "600", "--note", "json", ...state],
        ["initial-token", "list", ...state],
        ADA,
        ["user", "disable", "ada", ...state],
        ["user", "enable", "ada", ...state],
        ["user", "set-password", "ada", "--password", "another long one", ...state],
        ["user", "signout", "ada", "--revoke-tokens", ...state],
        ["user", "authorizations", "ada", ...state],
        ["user", "grant-operator", "ada", ...state],
        ["user", "revoke-operator", "ada", ...state],
        ["events", "--user", "ada", ...state],
        ["user", "list", ...state],
        ["cleartokens", ...state],
        ["keys", "generate"],
        ["keys", "list"],
        ["keys", "list", "--file", keyFile],
        ["keys", "add", "--alg", "ES256", "--file", keyFile],
        ["keys", "promote", `--kid=${kids.newRs}`, "--file", keyFile, "--write"],
        ["keys", "retire", `--kid=${kids.oldRs}`, "--file", keyFile],
        ["db-keys", "add", "--alg", "ES256", ...state],
        ["db-keys", "list", ...state],
        ["help"],
        ["help", "client"],
      ].map(json),
      env,
    );
    const [users, created, spa, doomed] = checkDocuments(first) as [unknown[], ...{ client_id: string }[]];
    expect(first.map((r) => r.code)).toEqual(first.map(() => 0));
    expect(users).toEqual([]);
    clients = { confidential: created!.client_id, public: spa!.client_id, doomed: doomed!.client_id };
    initialTokenId = (JSON.parse(first.find((r) => r.args[0] === "initial-token" && r.args[1] === "create")!.stdout) as { id: string }).id;
    databaseKid = (JSON.parse(first.find((r) => r.args[0] === "db-keys" && r.args[1] === "add")!.stdout) as { kid: string }).kid;

    second = await adminBatch(
      [
        ["client", "show", clients.confidential, ...state],
        ["client", "rotate-secret", clients.confidential, ...state],
        ["client", "end-secret-grace", clients.confidential, ...state],
        ["client", "revoke-tokens", clients.confidential, ...state],
        ["client", "delete", clients.doomed, ...state],
        ["initial-token", "revoke", initialTokenId, ...state],
        ["user", "revoke-authorization", "ada", clients.confidential, ...state],
        // Promoted, it signs only from 7 minutes after it was added: until then it may be retired.
        ["db-keys", "promote", `--kid=${databaseKid}`, ...state],
        ["db-keys", "retire", `--kid=${databaseKid}`, ...state],
      ].map(json),
      env,
    );
    checkDocuments(second);
    expect(second.map((r) => r.code)).toEqual(second.map(() => 0));

    const covered = new Set([...first, ...second].map((r) => commandOf(r.args)));
    expect(Object.keys(commands).filter((name) => !covered.has(name))).toEqual([]);
    // help --json lists exactly the table's commands.
    const help = JSON.parse(first.find((r) => r.args[0] === "help" && r.args.length === 2)!.stdout) as { commands: { name: string }[] };
    expect(help.commands.map((c) => c.name)).toEqual(Object.keys(commands));
  });

  it("the documents say what happened: a few spot checks", () => {
    const doc = (results: BatchResult[], ...words: string[]) =>
      JSON.parse(results.find((r) => words.every((w, i) => r.args[i] === w))!.stdout) as unknown;
    expect(doc(first, "client", "list")).toHaveLength(3);
    expect(doc(first, "user", "disable")).toMatchObject({ username: "ada", is_active: false });
    expect(doc(first, "cleartokens")).toMatchObject({ refreshTokens: 0 });
    expect(doc(first, "keys", "promote")).toEqual({ written: keyFile, keys: 5 });
    expect((doc(first, "keys", "retire") as KeySet).keys.map((k) => k.kid)).not.toContain(kids.oldRs);
    expect(doc(second, "client", "rotate-secret")).toMatchObject({ client_id: clients.confidential, client_secret: expect.any(String) });
    expect(doc(second, "client", "delete")).toEqual({ client_id: clients.doomed, deleted: true });
    expect(doc(first, "client", "list")).toEqual(expect.arrayContaining([expect.objectContaining({ client_id: clients.public, source: "admin" })]));
    const issued = doc(first, "initial-token", "create") as Record<string, unknown>;
    expect(issued).toMatchObject({ id: initialTokenId, token: expect.stringMatching(/^[\w-]{43}$/), uses_left: 2, note: "json", state: "usable" });
    expect(doc(first, "initial-token", "list")).toEqual([{ ...issued, token: undefined }]);
    expect(JSON.stringify(doc(first, "initial-token", "list"))).not.toContain(issued.token as string);
    expect(doc(second, "initial-token", "revoke")).toEqual({ id: initialTokenId, revoked: true });
    expect(doc(first, "db-keys", "list")).toEqual([expect.objectContaining({ kid: databaseKid, alg: "ES256", role: "published" })]);
    expect(doc(second, "db-keys", "promote")).toEqual({ kid: databaseKid, alg: "ES256", signs_from: expect.any(String) });
    expect(doc(second, "db-keys", "retire")).toEqual({ kid: databaseKid, retired_at: expect.any(String) });
    expect(doc(first, "user", "authorizations")).toEqual([]);
    expect(doc(second, "user", "revoke-authorization")).toMatchObject({ username: "ada", client_id: clients.confidential, refresh_grants_revoked: 0, consent_forgotten: false });
  });

  it("errors print one JSON error document on stdout, the message on stderr, and exit 1 or 2", { timeout: 120_000 }, async () => {
    const missing = "no-such-client";
    const usageErrors = Object.keys(commands).map((name) => [...name.split(" "), "--bogus"]);
    const results = await adminBatch(
      [
        ...usageErrors,
        [],
        ["frobnicate"],
        ["help", "frobnicate"],
        ["client"],
        ["client", "show", missing, ...state],
        ["client", "delete", missing, ...state],
        ["client", "rotate-secret", clients.public, ...state],
        ["initial-token", "revoke", "0123456789ab", ...state],
        ["initial-token", "create", "--uses", "0", ...state],
        ADA,
        ["user", "enable", "nobody", ...state],
        ["user", "revoke-authorization", "ada", missing, ...state],
        ["keys", "retire", "--kid=no-such-kid", "--file", keyFile],
        ["keys", "list", "--file", join(dir, "absent.json")],
        ["client", "list", "--remote"],
      ].map(json),
      env,
    );
    checkDocuments(results);
    const byLine = new Map(results.map((r) => [r.args.slice(0, -1).join(" "), r]));
    for (const args of usageErrors) {
      expect(byLine.get(args.join(" "))).toMatchObject({ code: 2, stderr: expect.stringMatching(/Unknown option '--bogus'/) });
    }
    const error = (line: string[]) => (JSON.parse(byLine.get(line.join(" "))!.stdout) as { error: { message: string; exit_code: number } }).error;
    expect(error([])).toEqual({ message: "no command given", exit_code: 2 });
    expect(error(["frobnicate"])).toEqual({ message: 'unknown command "frobnicate"', exit_code: 2 });
    expect(error(["help", "frobnicate"]).exit_code).toBe(2);
    expect(error(["client"])).toEqual({ message: '"client" needs a subcommand', exit_code: 2 });
    expect(error(["client", "show", missing, ...state])).toEqual({ message: `client ${missing} not found`, exit_code: 1 });
    expect(error(["client", "delete", missing, ...state]).exit_code).toBe(1);
    expect(error(["client", "rotate-secret", clients.public, ...state]).message).toMatch(/public client: it has no secret/);
    expect(error(["initial-token", "revoke", "0123456789ab", ...state])).toEqual({ message: "initial access token 0123456789ab not found", exit_code: 1 });
    expect(error(["initial-token", "create", "--uses", "0", ...state])).toMatchObject({ message: expect.stringMatching(/invalid --uses/), exit_code: 2 });
    expect(error(ADA)).toEqual({ message: "user ada already exists", exit_code: 1 });
    expect(error(["user", "enable", "nobody", ...state])).toEqual({ message: "user nobody not found", exit_code: 1 });
    expect(error(["user", "revoke-authorization", "ada", missing, ...state])).toEqual({ message: `client ${missing} not found`, exit_code: 1 });
    expect(error(["keys", "retire", "--kid=no-such-kid", "--file", keyFile]).exit_code).toBe(1);
    expect(error(["keys", "list", "--file", join(dir, "absent.json")]).message).toMatch(/cannot read/);
    expect(error(["client", "list", "--remote"]).message).toMatch(/--remote needs CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_API_TOKEN/);
  });

  it("the CLI's own entry point prints the same: a database command and a failing one as plain processes", { timeout: 120_000 }, async () => {
    const [list, failing] = await Promise.all([
      adminProcess(json(["client", "list", ...state]), env),
      adminProcess(json(["client", "show", "no-such-client", ...state]), env),
    ]);
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout)).toHaveLength(2);
    expect(failing.code).toBe(1);
    expect(JSON.parse(failing.stdout)).toEqual({ error: { message: "client no-such-client not found", exit_code: 1 } });
  });
});
