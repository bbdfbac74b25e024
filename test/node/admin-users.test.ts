/**
 * The admin CLI's user commands that end what a user holds (RFC 9700 §4.14.2): `user disable`,
 * `user set-password` and `user signout`, checked in the local D1 and KV they act on. One real
 * process creates the user (and applies the migrations); the rest run through the same `main()`.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../scripts/admin";
import { openLocalDatabase, type LocalDatabase } from "../../scripts/lib/local-db";
import { ROOT } from "../../scripts/lib/project";
import { findRefreshToken, insertRefreshToken } from "../../src/db/refresh-tokens";
import { registerClient } from "../../src/db/registration";
import { findLiveSession, insertSession } from "../../src/db/sessions";
import { parseSettings } from "../../src/settings";
import { revokedGrantKey, userNotBeforeKey } from "../../src/tokens/revocation";
import { newGrantId, newRefreshToken } from "../../src/tokens/user-tokens";

const stateDir = join(mkdtempSync(join(tmpdir(), "eot-admin-users-")), "state");
const state = ["--persist-to", stateDir];
let local: LocalDatabase;
let userId: string;

beforeAll(async () => {
  const env = { ...process.env, PATH: `${join(ROOT, "node_modules", ".bin")}:${process.env.PATH ?? ""}`, WRANGLER_SEND_METRICS: "false" };
  const created = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const args = ["--import", "tsx", join(ROOT, "scripts", "admin.ts"), "user", "create", "--username", "ada", "--password", "a long password", "--json", ...state];
    const child = spawn(process.execPath, args, { cwd: ROOT, env });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
  expect(created.code, created.stderr).toBe(0);
  userId = (JSON.parse(created.stdout) as { id: string }).id;
  local = await openLocalDatabase(stateDir);
});

afterAll(async () => {
  await local?.dispose();
  rmSync(join(stateDir, ".."), { recursive: true, force: true });
});

async function adminHere(args: string[]) {
  let stdout = "";
  let stderr = "";
  const io = { out: (t: string) => (stdout += `${t}\n`), err: (t: string) => (stderr += `${t}\n`) };
  const code = await main([...args, ...state], io, { openLocal: async () => ({ ...local, dispose: async () => {} }) });
  return { code, stdout, stderr };
}

/** A browser session and a refresh token (one grant) of the user, as signing in would leave them. */
async function userHolds() {
  const now = Math.floor(Date.now() / 1000);
  const sid = crypto.randomUUID();
  await insertSession(local.db, { id: sid, userId, authTime: now, expiresAt: now + 3600 }).run();
  const { client } = await registerClient(local.db, { name: "App", clientType: "confidential", grantTypes: ["authorization_code", "refresh_token"], redirectUris: ["https://app.example.com/cb"] });
  const grantId = newGrantId();
  const refresh = await newRefreshToken(parseSettings({}), client, { grantId, userId, scope: ["read"] });
  await insertRefreshToken(local.db, refresh.row).run();
  return { sid, grantId, tokenHash: refresh.row.tokenHash };
}

async function expectEnded(held: Awaited<ReturnType<typeof userHolds>>, tokens: boolean) {
  expect(await findLiveSession(local.db, held.sid, Math.floor(Date.now() / 1000))).toBeUndefined();
  expect((await findRefreshToken(local.db, held.tokenHash))!.revokedAt !== null).toBe(tokens);
  expect(await local.kv.get(revokedGrantKey(held.grantId))).toBe(tokens ? "1" : null);
}

describe("admin CLI: ending what a user holds", () => {
  it("user signout ends every session; --revoke-tokens also revokes the tokens", { timeout: 60_000 }, async () => {
    const first = await userHolds();
    const signout = await adminHere(["user", "signout", "ada"]);
    expect(signout).toMatchObject({ code: 0, stdout: "Signed ada out everywhere. Ended 1 browser sessions.\n" });
    await expectEnded(first, false);
    expect(await local.kv.get(userNotBeforeKey(userId))).toBeNull();

    const second = await userHolds();
    const revoking = await adminHere(["user", "signout", "ada", "--revoke-tokens", "--json"]);
    expect(revoking.code, revoking.stderr).toBe(0);
    expect(JSON.parse(revoking.stdout)).toEqual({
      // The first grant's refresh token too: plain signout left it alone.
      username: "ada", sessions_ended: 1, refresh_tokens_revoked: 2, access_tokens_revoked_before: expect.any(String),
    });
    expect(revoking.stderr).toMatch(/within about 60 s/);
    await expectEnded(second, true);
    expect(Number(await local.kv.get(userNotBeforeKey(userId)))).toBeGreaterThan(0);
  });

  it("user set-password and user disable end sessions and revoke tokens", { timeout: 60_000 }, async () => {
    const beforePassword = await userHolds();
    const changed = await adminHere(["user", "set-password", "ada", "--password", "another long one"]);
    expect(changed.code, changed.stderr).toBe(0);
    expect(changed.stdout).toMatch(/^Password of ada changed\. Ended 1 browser sessions; revoked 1 refresh tokens and every access token issued until now\./);
    await expectEnded(beforePassword, true);

    const beforeDisable = await userHolds();
    const disabled = await adminHere(["user", "disable", "ada", "--json"]);
    expect(disabled.code, disabled.stderr).toBe(0);
    expect(JSON.parse(disabled.stdout)).toMatchObject({ username: "ada", is_active: false, sessions_ended: 1, refresh_tokens_revoked: 1 });
    await expectEnded(beforeDisable, true);

    expect((await adminHere(["user", "signout", "nobody"])).code).toBe(1);
  });
});
