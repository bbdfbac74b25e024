/**
 * The admin CLI's user commands that end what a user holds (RFC 9700 §4.14.2): `user disable`,
 * `user set-password` and `user signout`, and what a user authorized (`user authorizations`,
 * `user revoke-authorization`), checked in the local D1 and KV they act on. One real
 * process creates the user (and applies the migrations); the rest run through the same `main()`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openLocalDatabase, type LocalDatabase } from "../../scripts/lib/local-db";
import { adminInProcess, adminProcess } from "./support/admin";
import { findRefreshToken, insertRefreshToken } from "../../src/db/refresh-tokens";
import { registerClient } from "../../src/db/registration";
import { findLiveSession, insertSession } from "../../src/db/sessions";
import { parseSettings } from "../../src/core/settings";
import { revokedGrantKey, userClientNotBeforeKey, userNotBeforeKey } from "../../src/tokens/revocation";
import { approvalQuery, NOTHING_APPROVED, saveApproval } from "../../src/db/consents";
import { newGrantId, newRefreshToken } from "../../src/tokens/user-tokens";
import { auditRow, recordAuditEvents } from "../../src/db/audit-events";
import { findUserByUsername } from "../../src/db/users";

const stateDir = join(mkdtempSync(join(tmpdir(), "eot-admin-users-")), "state");
const state = ["--persist-to", stateDir];
let local: LocalDatabase;
let userId: string;

beforeAll(async () => {
  const created = await adminProcess(["user", "create", "--username", "ada", "--password", "a long password", "--json", ...state]);
  expect(created.code, created.stderr).toBe(0);
  userId = (JSON.parse(created.stdout) as { id: string }).id;
  local = await openLocalDatabase(stateDir);
});

afterAll(async () => {
  await local?.dispose();
  rmSync(join(stateDir, ".."), { recursive: true, force: true });
});

const adminHere = (args: string[]) => adminInProcess([...args, ...state], async () => ({ ...local, dispose: async () => {} }));

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

describe("admin CLI: what a user authorized", () => {
  it("user authorizations lists the clients; user revoke-authorization revokes one client's tokens and forgets its consent", { timeout: 60_000 }, async () => {
    const revoked = await userHolds();
    const kept = await userHolds();
    const revokedClient = (await findRefreshToken(local.db, revoked.tokenHash))!.clientId;
    const keptClient = (await findRefreshToken(local.db, kept.tokenHash))!.clientId;
    await saveApproval(local.db, userId, revokedClient, { ...NOTHING_APPROVED, scopes: ["read"] }, NOTHING_APPROVED);

    const listed = await adminHere(["user", "authorizations", "ada", "--json"]);
    expect(listed.code, listed.stderr).toBe(0);
    const clientsOf = (stdout: string) => (JSON.parse(stdout) as { client_id: string }[]).map((a) => a.client_id).sort();
    expect(clientsOf(listed.stdout)).toEqual([revokedClient, keptClient].sort());
    expect(JSON.parse(listed.stdout)).toContainEqual(expect.objectContaining({ client_id: revokedClient, client_name: "App", scope: "read", live_refresh_tokens: 1 }));

    const revoking = await adminHere(["user", "revoke-authorization", "ada", revokedClient, "--json"]);
    expect(revoking.code, revoking.stderr).toBe(0);
    expect(JSON.parse(revoking.stdout)).toMatchObject({ username: "ada", client_id: revokedClient, refresh_grants_revoked: 1, consent_forgotten: true });
    expect((await findRefreshToken(local.db, revoked.tokenHash))!.revokedAt).not.toBeNull();
    expect(await local.kv.get(revokedGrantKey(revoked.grantId))).toBe("1");
    expect(Number(await local.kv.get(userClientNotBeforeKey(userId, revokedClient)))).toBeGreaterThan(0);
    expect(await approvalQuery(local.db, userId, revokedClient)).toEqual([]);
    // The other client keeps its token, and the list shows only it.
    expect((await findRefreshToken(local.db, kept.tokenHash))!.revokedAt).toBeNull();
    expect(clientsOf((await adminHere(["user", "authorizations", "ada", "--json"])).stdout)).toEqual([keptClient]);
    expect((await adminHere(["user", "revoke-authorization", "ada", "no-such-client"])).code).toBe(1);
  });
});

describe("admin CLI: operators and events (what the operator console shows)", () => {
  it("user create --operator, grant-operator and revoke-operator set the role; user list shows it", { timeout: 60_000 }, async () => {
    const created = await adminHere(["user", "create", "--username", "grace", "--password", "a long password", "--operator", "--json"]);
    expect(created.code, created.stderr).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ username: "grace", is_operator: true });
    expect((await findUserByUsername(local.db, "grace"))!.isOperator).toBe(true);
    expect((await findUserByUsername(local.db, "ada"))!.isOperator).toBe(false);

    const revoked = await adminHere(["user", "revoke-operator", "grace", "--json"]);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(JSON.parse(revoked.stdout)).toEqual({ username: "grace", is_operator: false });
    expect((await findUserByUsername(local.db, "grace"))!.isOperator).toBe(false);
    expect((await adminHere(["user", "grant-operator", "grace"])).code).toBe(0);
    expect((await findUserByUsername(local.db, "grace"))!.isOperator).toBe(true);
    expect((await adminHere(["user", "grant-operator", "nobody"])).code).toBe(1);

    const listed = JSON.parse((await adminHere(["user", "list", "--json"])).stdout) as { username: string; is_operator: boolean }[];
    expect(listed.find((u) => u.username === "grace")?.is_operator).toBe(true);
  });

  it("events lists recorded events newest first, filtered by type and user; a bad filter is a usage error", { timeout: 60_000 }, async () => {
    const at = Math.floor(Date.now() / 1000);
    await recordAuditEvents(local.db, [
      auditRow({ type: "user.disabled", userId, operatorId: "op-1" }, at - 5),
      auditRow({ type: "signin.failed", reason: "invalid_credentials", via: "login_form", username: "ada", clientAddress: "192.0.2.1" }, at),
    ]);

    const all = await adminHere(["events", "--json"]);
    expect(all.code, all.stderr).toBe(0);
    const events = JSON.parse(all.stdout) as { type: string; user_id: string | null; operator_id: string | null; detail: Record<string, unknown> }[];
    expect(events.map((e) => e.type).slice(0, 2)).toEqual(["signin.failed", "user.disabled"]);
    expect(events[0]!.detail).toEqual({ reason: "invalid_credentials", via: "login_form", username: "ada", clientAddress: "192.0.2.1" });
    expect(events[1]).toMatchObject({ user_id: userId, operator_id: "op-1" });

    const mine = JSON.parse((await adminHere(["events", "--user", "ada", "--type", "user.disabled", "--json"])).stdout) as unknown[];
    expect(mine).toHaveLength(1);
    const text = await adminHere(["events", "--limit", "1"]);
    expect(text.stdout).toContain("signin.failed");
    expect(text.stdout).not.toContain("user.disabled");
    expect((await adminHere(["events", "--type", "token.issued"])).code).toBe(2);
    expect((await adminHere(["events", "--limit", "0"])).code).toBe(2);
    expect((await adminHere(["events", "--user", "nobody"])).code).toBe(1);
  });
});
