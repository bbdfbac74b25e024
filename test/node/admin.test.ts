/**
 * The admin CLI, run as a subprocess against temporary wrangler state directories (--persist-to),
 * and then against the state a running `wrangler dev` serves. Independent flows use separate
 * state directories and run concurrently: every CLI run starts wrangler's local runtime.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashSecret } from "../../src/core/crypto";
import { parseSettings } from "../../src/core/settings";
import { findClient } from "../../src/db/clients";
import { findUsableInitialAccessToken, listInitialAccessTokens } from "../../src/db/initial-access-tokens";
import { registerClient } from "../../src/db/registration";
import { registrationFromMetadata } from "../../src/oauth/client-metadata";
import { generateSigningKeySet } from "../../src/tokens/generate-keys";
import { main } from "../../scripts/admin";
import { openLocalDatabase, type LocalDatabase } from "../../scripts/lib/local-db";
import { ROOT, WRANGLER_BIN } from "../../scripts/lib/project";
import { adminInProcess, adminProcess, cliEnv, type Run } from "./support/admin";
import { freePort } from "./support/server";

const env = cliEnv;

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "eot-admin-"));
  tempDirs.push(dir);
  return dir;
}
/** One local database per state directory for the in-process runs (each open starts workerd). */
const shared = new Map<string, Promise<LocalDatabase>>();
function openShared(stateDir: string): Promise<LocalDatabase> {
  let local = shared.get(stateDir);
  if (!local) shared.set(stateDir, (local = openLocalDatabase(stateDir)));
  return local.then(({ db, kv }) => ({ db, kv, dispose: async () => {} }));
}

afterAll(async () => {
  await Promise.all([...shared.values()].map(async (local) => (await local).dispose()));
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/**
 * Every CLI process starts wrangler's local runtime (several CPU-seconds), so each command runs
 * as a real subprocess at least once, and the many follow-up cases go through the same `main()`
 * in this process.
 *
 * `tsx scripts/admin.ts ARGS` as a subprocess (as `node --import tsx`, which is what the tsx
 * binary runs, minus its extra relay process).
 */
function admin(args: string[]): Promise<Run> {
  return adminProcess(args, env);
}

/**
 * The same CLI in this process (its `main`), for the many small cases: no process start per
 * case, and one database connection per state directory.
 */
function adminHere(args: string[]): Promise<Run> {
  return adminInProcess(args, openShared);
}

function parsed<T = Record<string, unknown>>(run: Run, what: string): T {
  if (run.code !== 0) throw new Error(`admin ${what} exited ${run.code}:\n${run.stderr}${run.stdout}`);
  return JSON.parse(run.stdout) as T;
}

/** Runs a command as a subprocess that must succeed with --json; returns the parsed output. */
async function adminJson<T = Record<string, unknown>>(args: string[]): Promise<T> {
  return parsed<T>(await admin([...args, "--json"]), args.join(" "));
}

/** The same through main(). */
async function adminHereJson<T = Record<string, unknown>>(args: string[]): Promise<T> {
  return parsed<T>(await adminHere([...args, "--json"]), args.join(" "));
}

const CONFIDENTIAL = [
  "--name", "Web app", "--type", "confidential",
  "--grant-types", "authorization_code,refresh_token,client_credentials",
  "--redirect-uris", "https://app.example.com/cb,http://127.0.0.1:9000/cb",
  "--scope", "read write", "--allowed-origins", "https://app.example.com",
];

/**
 * A state directory with the migrations applied by the CLI itself (its first run on a fresh
 * directory); each flow below works on its own copy, so they can run at the same time.
 */
let template: string;
beforeAll(async () => {
  template = join(tempDir(), "state");
  const first = await admin(["user", "list", "--persist-to", template]);
  expect(first).toMatchObject({ code: 0, stdout: "No users.\n" });
});
function stateCopy(): string {
  const dir = join(tempDir(), "state");
  cpSync(template, dir, { recursive: true });
  return dir;
}

describe.concurrent("admin CLI", () => {
  it("rejects bad command lines with exit code 2 and a message naming the problem", async () => {
    // Two as real processes (exit status and stderr), the rest through main().
    const [unknown, httpRedirect] = await Promise.all([
      admin(["frobnicate"]),
      admin([
        "client", "create", "--name", "x", "--type", "confidential", "--grant-types", "authorization_code",
        "--redirect-uris", "http://app.example.com/cb",
      ]),
    ]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command "frobnicate"/);
    expect(unknown.stderr).toMatch(/Usage: npm run admin/);
    expect(httpRedirect.code).toBe(2);
    expect(httpRedirect.stderr).toMatch(/invalid --redirect-uris: "http:\/\/app.example.com\/cb" uses http; only loopback/);

    const noName = await adminHere(["client", "create", "--type", "public", "--grant-types", "implicit", "--redirect-uris", "https://a.example/cb"]);
    expect(noName.code).toBe(2);
    expect(noName.stderr).toMatch(/missing required option --name/);
    const badType = await adminHere(["client", "create", "--name", "x", "--type", "secret", "--grant-types", "client_credentials"]);
    expect(badType.code).toBe(2);
    expect(badType.stderr).toMatch(/invalid --type: .*"confidential"\|"public"/);
    const badGrant = await adminHere(["client", "create", "--name", "x", "--type", "public", "--grant-types", "implicit,magic", "--redirect-uris", "https://a.example/cb"]);
    expect(badGrant.code).toBe(2);
    expect(badGrant.stderr).toMatch(/invalid --grant-types "magic"/);
    const publicSecret = await adminHere(["client", "create", "--name", "x", "--type", "public", "--grant-types", "client_credentials"]);
    expect(publicSecret.code).toBe(2);
    expect(publicSecret.stderr).toMatch(/invalid --grant-types: public clients cannot use client_credentials/);
    const unknownFlag = await adminHere(["client", "list", "--colour"]);
    expect(unknownFlag.code).toBe(2);
    expect(unknownFlag.stderr).toMatch(/Unknown option '--colour'/);
    const missingId = await adminHere(["client", "show"]);
    expect(missingId.code).toBe(2);
    expect(missingId.stderr).toMatch(/missing CLIENT_ID/);
    const extra = await adminHere(["user", "disable", "a", "b"]);
    expect(extra.code).toBe(2);
    expect(extra.stderr).toMatch(/unexpected argument "b"/);
    const bothTargets = await adminHere(["client", "list", "--remote", "--persist-to", "x"]);
    expect(bothTargets.code).toBe(2);
    const badEmail = await adminHere(["user", "create", "--username", "bob", "--password", "long enough", "--email", "nope"]);
    expect(badEmail.code).toBe(2);
    expect(badEmail.stderr).toMatch(/invalid --email/);
    const shortPassword = await adminHere(["user", "set-password", "alice", "--password", "short"]);
    expect(shortPassword.code).toBe(2);
    expect(shortPassword.stderr).toMatch(/invalid --password: at least 8 characters/);
    const badAlg = await adminHere(["keys", "generate", "--alg", "HS256"]);
    expect(badAlg.code).toBe(2);
    expect(badAlg.stderr).toMatch(/invalid --alg HS256/);
    const noCommand = await adminHere([]);
    expect(noCommand.code).toBe(2);

    const help = await adminHere(["help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/client rotate-secret CLIENT_ID/);
    expect(help.stdout).toMatch(/user set-password USERNAME --password PASS/);
    const commandHelp = await adminHere(["client", "create", "--help"]);
    expect(commandHelp.code).toBe(0);
    expect(commandHelp.stdout).toMatch(/^Usage: npm run admin -- client create --name NAME/);
  });

  it("keys generate prints a private JWK set", async () => {
    const run = await adminHere(["keys", "generate", "--alg", "ES256,EdDSA"]);
    expect(run.code).toBe(0);
    const { keys } = JSON.parse(run.stdout) as { keys: Record<string, string>[] };
    expect(keys.map((k) => [k.alg, k.use, typeof k.kid, typeof k.d])).toEqual([
      ["ES256", "sig", "string", "string"],
      ["EdDSA", "sig", "string", "string"],
    ]);
    expect(run.stderr).toMatch(/wrangler secret put SIGNING_KEYS/);
    const defaults = parsed<{ keys: { alg: string }[] }>(await adminHere(["keys", "generate"]), "keys generate");
    expect(defaults.keys.map((k) => k.alg)).toEqual(["ES256", "RS256", "Ed25519", "EdDSA"]);
  });

  it("rotates signing keys add-then-retire on a key file", async () => {
    const file = join(tempDir(), "keys.json");
    writeFileSync(file, (await adminHere(["keys", "generate"])).stdout);
    const before = parsed<{ kid: string; alg: string; role: string }[]>(await adminHere(["keys", "list", "--file", file, "--json"]), "keys list");
    expect(before.map((k) => [k.alg, k.role])).toEqual([["ES256", "signs"], ["RS256", "signs"], ["Ed25519", "signs"], ["EdDSA", "signs"]]);
    const oldRs = before[1]!.kid;

    expect((await adminHere(["keys", "add", "--alg", "RS256", "--file", file, "--write"])).code).toBe(0);
    const added = parsed<{ kid: string; role: string }[]>(await adminHere(["keys", "list", "--file", file, "--json"]), "keys list");
    expect(added.map((k) => k.role)).toEqual(["signs", "signs", "signs", "signs", "published"]);
    const newRs = added[4]!.kid;

    const refused = await adminHere(["keys", "retire", "--kid", oldRs, "--file", file]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/promote another RS256 key first/);
    expect((await adminHere(["keys", "promote", "--kid", newRs, "--file", file, "--write"])).code).toBe(0);
    expect((await adminHere(["keys", "retire", "--kid", oldRs, "--file", file, "--write"])).code).toBe(0);
    const after = parsed<{ kid: string; alg: string; role: string }[]>(await adminHere(["keys", "list", "--file", file, "--json"]), "keys list");
    expect(after).toEqual([
      { kid: newRs, alg: "RS256", role: "signs" },
      { kid: before[0]!.kid, alg: "ES256", role: "signs" },
      { kid: before[2]!.kid, alg: "Ed25519", role: "signs" },
      { kid: before[3]!.kid, alg: "EdDSA", role: "signs" },
    ]);
    expect((await adminHere(["keys", "retire", "--kid", "no-such-kid", "--file", file])).code).toBe(1);
  });

  it("creates OIDC clients and users with claims, and clears expired tokens", { timeout: 150_000 }, async () => {
    const state = ["--persist-to", stateCopy()];
    const client = parsed<Record<string, unknown>>(
      await adminHere([
        "client", "create", "--name", "RP", "--type", "confidential", "--grant-types", "authorization_code",
        "--redirect-uris", "https://rp.example.com/cb", "--id-token-alg", "ES256", "--subject-type", "pairwise", "--json", ...state,
      ]),
      "client create",
    );
    expect(client).toMatchObject({ id_token_signed_response_alg: "ES256", subject_type: "pairwise" });
    const badAlg = await adminHere(["client", "create", "--name", "x", "--type", "public", "--grant-types", "authorization_code", "--redirect-uris", "https://a.example/cb", "--id-token-alg", "none", ...state]);
    expect(badAlg.code).toBe(2);
    expect(badAlg.stderr).toMatch(/--id-token-alg/);
    const user = await adminHere(["user", "create", "--username", "claimed", "--password", "a long password", "--claims", '{"name":"Clai Med"}', "--json", ...state]);
    expect(user.code).toBe(0);
    expect((await adminHere(["user", "create", "--username", "bad", "--password", "a long password", "--claims", "{nope", ...state])).code).toBe(2);
    const cleared = parsed<Record<string, number>>(await adminHere(["cleartokens", "--json", ...state]), "cleartokens");
    expect(cleared).toEqual({ refreshTokens: 0, codeRedemptions: 0, signInThrottle: 0, sessionClients: 0, sessions: 0, initialAccessTokens: 0, metadataDocumentClients: 0, auditEvents: 0, spentIds: 0, deviceAuthorizations: 0 });
  });

  it("creates, lists, shows and deletes clients", { timeout: 150_000 }, async () => {
    const state = ["--persist-to", stateCopy()];
    const [web, spa] = await Promise.all([
      adminJson(["client", "create", ...CONFIDENTIAL, ...state]),
      adminHereJson([
        "client", "create", "--name", "SPA", "--type", "public", "--grant-types", "authorization_code",
        "--redirect-uris", "https://spa.example.com/cb", "--skip-consent", ...state,
      ]),
    ]);
    expect(web).toEqual({
      client_id: expect.stringMatching(/^[A-Za-z0-9]{32}$/),
      client_secret: expect.stringMatching(/^[\w-]{43}$/),
      name: "Web app",
      client_type: "confidential",
      source: "admin",
      application_type: "web",
      grant_types: ["authorization_code", "refresh_token", "client_credentials"],
      redirect_uris: ["https://app.example.com/cb", "http://127.0.0.1:9000/cb"],
      post_logout_redirect_uris: [],
      allowed_origins: ["https://app.example.com"],
      resources: [],
      scope: "read write",
      skip_authorization: false,
      token_endpoint_auth_method: "client_secret_basic",
      id_token_signed_response_alg: "RS256",
      subject_type: "public",
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect(spa).toMatchObject({ client_secret: null, client_type: "public", token_endpoint_auth_method: "none", skip_authorization: true });

    const [list, shown, listText] = await Promise.all([
      adminJson<Record<string, unknown>[]>(["client", "list", ...state]),
      adminHereJson(["client", "show", web.client_id as string, ...state]),
      adminHere(["client", "list", ...state]),
    ]);
    expect(list.map((c) => c.client_id).sort()).toEqual([web.client_id, spa.client_id].sort());
    expect(list.every((c) => !("client_secret" in c))).toBe(true);
    const { client_secret: _secret, ...withoutSecret } = web;
    expect(shown).toEqual(withoutSecret);
    expect(listText.stdout).toMatch(new RegExp(`${web.client_id}\\s+confidential\\s+admin\\s+Web app`));

    const rotatePublic = await adminHere(["client", "rotate-secret", spa.client_id as string, ...state]);
    expect(rotatePublic.code).toBe(1);
    expect(rotatePublic.stderr).toMatch(/is a public client: it has no secret/);

    const deleted = await adminHere(["client", "delete", spa.client_id as string, ...state]);
    expect(deleted.code).toBe(0);
    expect(deleted.stdout).toMatch(`Deleted client ${spa.client_id}.`);
    expect(deleted.stdout).toMatch(/CLIENT_CACHE_SECONDS \(default 30 s\)/);

    const gone = await admin(["client", "show", spa.client_id as string, ...state]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/client .* not found/);
    const deleteAgain = await adminHere(["client", "delete", spa.client_id as string, "--json", ...state]);
    expect(deleteAgain.code).toBe(1);
    expect(JSON.parse(deleteAgain.stdout)).toEqual({ error: { message: `client ${spa.client_id} not found`, exit_code: 1 } });
  });

  it("client create --resources limits the RFC 8707 resources a client may ask for", async () => {
    const state = ["--persist-to", stateCopy()];
    const service = ["client", "create", "--name", "Service", "--type", "confidential", "--grant-types", "client_credentials", ...state];
    const created = await adminHereJson([...service, "--resources", "https://api.example.com/v1,https://mcp.example.com/mcp"]);
    expect(created.resources).toEqual(["https://api.example.com/v1", "https://mcp.example.com/mcp"]);
    const shown = await adminHere(["client", "show", String(created.client_id), ...state]);
    expect(shown.stdout).toMatch(/resources\s+https:\/\/api\.example\.com\/v1/);
    expect((await adminHereJson([...service])).resources).toEqual([]);
    const fragment = await adminHere([...service, "--resources", "https://api.example.com/v1#x"]);
    expect(fragment.code).toBe(2);
    expect(fragment.stderr).toMatch(/invalid --resources/);
  });

  it("client create --grant-types takes token-exchange (RFC 8693): confidential clients with the resources they serve only", async () => {
    const state = ["--persist-to", stateCopy()];
    const grant = "urn:ietf:params:oauth:grant-type:token-exchange";
    const server = ["client", "create", "--name", "Orders API", "--grant-types", grant, ...state];
    const created = await adminHereJson([...server, "--type", "confidential", "--resources", "https://api.example.com/orders,https://api.example.com/billing"]);
    expect(created.grant_types).toEqual([grant]);
    expect(created.resources).toEqual(["https://api.example.com/orders", "https://api.example.com/billing"]);
    const publicClient = await adminHere([...server, "--type", "public", "--resources", "https://api.example.com/orders"]);
    expect(publicClient.code).toBe(2);
    expect(publicClient.stderr).toMatch(/invalid --grant-types: public clients cannot use token-exchange/);
    const noResources = await adminHere([...server, "--type", "confidential"]);
    expect(noResources.code).toBe(2);
    expect(noResources.stderr).toMatch(/invalid --resources: token-exchange needs the resources the client serves/);
  });

  it("client create --owner USERNAME: the user's application (source user, on their application pages); an unknown user is refused", async () => {
    const stateDir = stateCopy();
    const state = ["--persist-to", stateDir];
    const user = await adminHereJson(["user", "create", "--username", "owner", "--password", "a long password", ...state]);
    const app = ["client", "create", "--name", "Owned", "--type", "confidential", "--grant-types", "client_credentials", ...state];
    const created = await adminHereJson([...app, "--owner", "owner"]);
    expect(created.source).toBe("user");
    const { db } = await openShared(stateDir);
    expect((await findClient(db, String(created.client_id)))?.userId).toBe(user.id);
    const shown = await adminHere(["client", "show", String(created.client_id), ...state]);
    expect(shown.stdout).toMatch(/source\s+user \(on the application pages, by its owner\)/);
    const list = await adminHere(["client", "list", ...state]);
    expect(list.stdout).toMatch(new RegExp(`^${created.client_id}\\s+confidential\\s+user\\s+Owned`, "m"));
    const unknown = await adminHere([...app, "--owner", "nobody"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/user nobody not found/);
  });

  it("shows how each client came to be, and deletes a client that registered itself", { timeout: 150_000 }, async () => {
    const stateDir = stateCopy();
    const state = ["--persist-to", stateDir];
    const byOperator = await adminHereJson(["client", "create", "--name", "Ops app", "--type", "public", "--grant-types", "authorization_code", "--redirect-uris", "https://ops.example.com/cb", ...state]);
    // A client as POST /o/register/ makes one (test/worker/registration.test.ts drives that endpoint).
    const { db } = await openShared(stateDir);
    const { client: selfMade } = await registerClient(
      db,
      registrationFromMetadata(
        { client_name: "Agent", redirect_uris: ["http://127.0.0.1:33418/cb"], token_endpoint_auth_method: "none", client_uri: "https://agent.example" },
        { settings: parseSettings({}), source: "registration" },
      ),
      { registrationAccessTokenHash: await hashSecret("registration access token") },
    );

    const [list, listText, shown, shownText] = await Promise.all([
      adminHereJson<Record<string, unknown>[]>(["client", "list", ...state]),
      adminHere(["client", "list", ...state]),
      adminHereJson(["client", "show", selfMade.id, ...state]),
      adminHere(["client", "show", selfMade.id, ...state]),
    ]);
    // Listed by creation time, then id: both were made within the same second.
    expect(list.map((c) => [c.client_id, c.source])).toEqual(
      expect.arrayContaining([
        [byOperator.client_id, "admin"],
        [selfMade.id, "registration"],
      ]),
    );
    expect(list).toHaveLength(2);
    expect(listText.stdout).toMatch(/^CLIENT ID\s+TYPE\s+SOURCE\s+NAME\s+GRANT TYPES$/m);
    expect(listText.stdout).toMatch(new RegExp(`^${selfMade.id}\\s+public\\s+registration\\s+Agent\\s+authorization_code$`, "m"));
    expect(shown).toMatchObject({ client_id: selfMade.id, source: "registration", client_type: "public", redirect_uris: ["http://127.0.0.1:33418/cb"] });
    expect(shownText.stdout).toMatch(/source\s+registration \(RFC 7591, by the client\)/);
    // Nothing of the registration access token is shown.
    expect(JSON.stringify(shown)).not.toMatch(/registration_access|RegistrationAccess/i);

    expect(await adminHereJson(["client", "delete", selfMade.id, ...state])).toEqual({ client_id: selfMade.id, deleted: true });
    expect(await findClient(db, selfMade.id)).toBeUndefined();
    expect((await adminHereJson<Record<string, unknown>[]>(["client", "list", ...state])).map((c) => c.client_id)).toEqual([byOperator.client_id]);
  });

  it("issues, lists and revokes initial access tokens; only hashes are stored, the token is printed once", { timeout: 150_000 }, async () => {
    const stateDir = stateCopy();
    const state = ["--persist-to", stateDir];
    const before = Date.now();
    // One as a real process (the entry point), the rest through main().
    const created = parsed(await admin(["initial-token", "create", "--uses", "3", "--expires-in", "3600", "--note", "for the partner team", "--json", ...state]), "initial-token create");
    const forever = await adminHere(["initial-token", "create", ...state]);
    expect(created).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{12}$/),
      token: expect.stringMatching(/^[\w-]{43}$/),
      note: "for the partner team",
      uses_left: 3,
      expires_at: expect.any(String),
      state: "usable",
      created_at: expect.any(String),
    });
    const expiresAt = Date.parse(created.expires_at as string);
    expect(expiresAt - before).toBeGreaterThan(3590_000);
    expect(expiresAt - before).toBeLessThan(3700_000);
    expect(forever.code).toBe(0);
    const foreverToken = /shown only now:\n {2}([\w-]{43})\n/.exec(forever.stdout)?.[1];
    expect(foreverToken).toBeDefined();
    expect(forever.stdout).toMatch(/uses\s+unlimited\n\s+expires\s+never/);
    // wrangler.toml leaves DYNAMIC_REGISTRATION off: the CLI says the token is not asked for yet.
    expect(forever.stdout).toMatch(/DYNAMIC_REGISTRATION is "off" here/);

    // Stored as a hash whose start is the id; the server finds it by the token's hash.
    const { db } = await openShared(stateDir);
    const rows = await listInitialAccessTokens(db);
    expect(rows.map((row) => Buffer.from(row.tokenHash, "base64url").subarray(0, 6).toString("hex"))).toContain(created.id);
    expect(JSON.stringify(rows)).not.toContain(created.token as string);
    expect(await findUsableInitialAccessToken(db, await hashSecret(created.token as string))).toMatchObject({ usesLeft: 3, note: "for the partner team" });

    const [list, listText] = await Promise.all([
      adminHereJson<Record<string, unknown>[]>(["initial-token", "list", ...state]),
      adminHere(["initial-token", "list", ...state]),
    ]);
    expect(list).toHaveLength(2);
    expect(list.find((t) => t.id === created.id)).toEqual({ ...created, token: undefined });
    expect(list.every((t) => !("token" in t))).toBe(true);
    expect(listText.stdout).toMatch(/^ID\s+STATE\s+USES LEFT\s+EXPIRES\s+NOTE$/m);
    expect(listText.stdout).toMatch(new RegExp(`^${created.id as string}\\s+usable\\s+3\\s+\\S+\\s+for the partner team$`, "m"));
    for (const token of [created.token as string, foreverToken!]) expect(listText.stdout).not.toContain(token);

    expect(await adminHereJson(["initial-token", "revoke", created.id as string, ...state])).toEqual({ id: created.id, revoked: true });
    expect(await findUsableInitialAccessToken(db, await hashSecret(created.token as string))).toBeUndefined();
    const again = await adminHere(["initial-token", "revoke", created.id as string, ...state]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/initial access token .* not found/);

    for (const [args, message] of [
      [["--uses", "0"], /invalid --uses: a whole number from 1/],
      [["--uses", "-2"], /invalid --uses|argument/],
      [["--uses", "many"], /invalid --uses/],
      [["--expires-in", "1.5"], /invalid --expires-in/],
      [["--note", "x".repeat(201)], /invalid --note: at most 200 characters/],
    ] as [string[], RegExp][]) {
      const refused = await adminHere(["initial-token", "create", ...args, ...state]);
      expect(refused.code, args.join(" ")).toBe(2);
      expect(refused.stderr).toMatch(message);
    }
    const short = await adminHere(["initial-token", "revoke", "abc", ...state]);
    expect(short.code).toBe(2);
    expect((await listInitialAccessTokens(db)).length).toBe(1);
  });

  it("creates, lists, disables, enables users and sets passwords", { timeout: 150_000 }, async () => {
    const state = ["--persist-to", stateCopy()];
    const alice = await adminJson([
      "user", "create", "--username", "alice", "--password", "correct horse", "--email", "alice@example.com", ...state,
    ]);
    expect(alice).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      username: "alice",
      email: "alice@example.com",
      is_active: true,
      is_operator: false,
      created_at: expect.any(String),
    });
    expect(JSON.stringify(alice)).not.toMatch(/pbkdf2|password/);

    const disabled = await adminHereJson(["user", "disable", "alice", ...state]);
    // Disabling also ends sessions and revokes tokens (test/node/admin-users.test.ts); alice has none.
    expect(disabled).toEqual({ username: "alice", is_active: false, sessions_ended: 0, refresh_tokens_revoked: 0, access_tokens_revoked_before: expect.any(String) });
    const listed = await adminHere(["user", "list", ...state]);
    expect(listed.stdout).toMatch(/^USERNAME\s+ACTIVE\s+OPERATOR\s+EMAIL\s+ID\nalice\s+no\s+no\s+alice@example.com/);

    const duplicate = await adminHere(["user", "create", "--username", "alice", "--password", "another one", ...state]);
    expect(duplicate.code).toBe(1);
    expect(duplicate.stderr).toMatch(/user alice already exists/);
    const missingUser = await adminHere(["user", "enable", "nobody", ...state]);
    expect(missingUser.code).toBe(1);
    expect(missingUser.stderr).toMatch(/user nobody not found/);

    const enabled = await adminHereJson(["user", "enable", "alice", ...state]);
    expect(enabled).toEqual({ username: "alice", is_active: true });
    const changed = await adminHereJson(["user", "set-password", "alice", "--password", "battery staple", ...state]);
    expect(changed).toEqual({ username: "alice", password_changed: true, sessions_ended: 0, refresh_tokens_revoked: 0, access_tokens_revoked_before: expect.any(String) });
    const listedJson = parsed<Record<string, unknown>[]>(await adminHere(["user", "list", "--json", ...state]), "user list");
    expect(listedJson).toEqual([alice]);
  });

  it("acts on the state `wrangler dev` serves: a created client gets tokens, a rotated secret stops working", { timeout: 150_000 }, async () => {
    const dir = tempDir();
    const state = ["--persist-to", stateCopy()];
    const envFile = join(dir, "dev.vars");
    writeFileSync(envFile, `SIGNING_KEYS='${JSON.stringify(await generateSigningKeySet())}'\nCLIENT_CACHE_SECONDS=0\n`);
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const server = startWrangler(["dev", "--ip", "127.0.0.1", "--port", String(port), ...state, "--env-file", envFile]);
    try {
      const [created] = await Promise.all([
        adminHereJson(["client", "create", "--name", "Service", "--type", "confidential", "--grant-types", "client_credentials", "--scope", "read", ...state]),
        waitForHealth(base, server),
      ]);
      const id = created.client_id as string;
      const oldSecret = created.client_secret as string;
      expect(await token(base, id, oldSecret)).toMatchObject({ status: 200, body: { token_type: "Bearer", scope: "read" } });

      // No grace (the default is CLIENT_CACHE_SECONDS; test/node/admin-secrets.test.ts): the old secret stops now.
      const rotated = await admin(["client", "rotate-secret", id, "--grace-seconds", "0", "--json", ...state]);
      expect(rotated.stderr).toMatch(/old secret stops working within CLIENT_CACHE_SECONDS \(default 30 s\)/);
      expect(parsed(rotated, "rotate-secret")).toEqual({ client_id: id, client_secret: expect.any(String), previous_secret_expires_at: null });
      const newSecret = parsed(rotated, "rotate-secret").client_secret as string;
      expect(newSecret).not.toBe(oldSecret);

      // CLIENT_CACHE_SECONDS=0: no isolate keeps the old record.
      expect(await token(base, id, oldSecret)).toMatchObject({ status: 401, body: { error: "invalid_client" } });
      const fresh = await token(base, id, newSecret);
      expect(fresh).toMatchObject({ status: 200 });

      // client revoke-tokens writes the client's "not before" note into the KV the server reads.
      const me = () => fetch(`${base}/api/me`, { headers: { authorization: `Bearer ${fresh.body.access_token as string}` } });
      expect((await me()).status).toBe(200);
      const revoked = await adminHere(["client", "revoke-tokens", id, "--json", ...state]);
      expect(parsed(revoked, "client revoke-tokens")).toMatchObject({ client_id: id, refresh_tokens_revoked: 0 });
      expect((await me()).status).toBe(401);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n--- wrangler dev output ---\n${server.output()}`, { cause: error });
    } finally {
      await server.stop();
    }
  });
});

// ---------------------------------------------------------------------------------------------


interface Server {
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

function startWrangler(args: string[]): Server {
  // Its own process group, so stopping it also stops workerd.
  const child = spawn(process.execPath, [WRANGLER_BIN, ...args], { cwd: ROOT, env, detached: true });
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    child,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      process.kill(-child.pid!, "SIGTERM");
      const timer = setTimeout(() => process.kill(-child.pid!, "SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function waitForHealth(base: string, server: Server): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (server.child.exitCode !== null) throw new Error(`wrangler dev exited with ${server.child.exitCode}`);
    try {
      if ((await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(2000) })).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error("wrangler dev did not answer /healthz");
}

async function token(base: string, clientId: string, secret: string) {
  const res = await fetch(`${base}/o/token/`, {
    method: "POST",
    headers: {
      authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString("base64")}`,
      "content-type": "application/x-www-form-urlencoded",
    },
    body: "grant_type=client_credentials&scope=read",
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}
