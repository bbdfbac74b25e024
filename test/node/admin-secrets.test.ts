/**
 * `client rotate-secret --grace-seconds N` and `client end-secret-grace`, checked in the local D1
 * they act on. One real process creates the client (and applies the migrations); the rest run
 * through the same `main()`. Serving the secrets is tested in test/worker/secret-rotation.test.ts.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openLocalDatabase, type LocalDatabase } from "../../scripts/lib/local-db";
import { adminInProcess, adminProcess } from "./support/admin";
import { secretMatchesHash } from "../../src/core/crypto";
import { findClient } from "../../src/db/clients";

const stateDir = join(mkdtempSync(join(tmpdir(), "eot-admin-secrets-")), "state");
const state = ["--persist-to", stateDir];
let local: LocalDatabase;
let clientId: string;
let firstSecret: string;

beforeAll(async () => {
  const created = await adminProcess([
    "client", "create", "--name", "Service", "--type", "confidential", "--grant-types", "client_credentials", "--json", ...state,
  ]);
  expect(created.code, created.stderr).toBe(0);
  ({ client_id: clientId, client_secret: firstSecret } = JSON.parse(created.stdout) as { client_id: string; client_secret: string });
  local = await openLocalDatabase(stateDir);
});

afterAll(async () => {
  await local?.dispose();
  rmSync(join(stateDir, ".."), { recursive: true, force: true });
});

const adminHere = (args: string[]) => adminInProcess([...args, ...state], async () => ({ ...local, dispose: async () => {} }));

async function rotate(...flags: string[]) {
  const run = await adminHere(["client", "rotate-secret", clientId, ...flags, "--json"]);
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as { client_id: string; client_secret: string; previous_secret_expires_at: string | null };
}

/** The stored record: which secret is current, which is previous, and until when. */
async function stored(current: string, previous: string | null) {
  const client = (await findClient(local.db, clientId))!;
  expect(await secretMatchesHash(current, client.secretHash!)).toBe(true);
  if (previous === null) expect(client.previousSecretHash).toBeNull();
  else expect(await secretMatchesHash(previous, client.previousSecretHash!)).toBe(true);
  return client.previousSecretExpiresAt;
}

const secondsFromNow = (iso: string) => Math.round((Date.parse(iso) - Date.now()) / 1000);

describe("admin CLI: client secret rotation with a grace period", () => {
  it("rotate-secret keeps the old secret for --grace-seconds (default CLIENT_CACHE_SECONDS); end-secret-grace ends it", { timeout: 60_000 }, async () => {
    const withGrace = await rotate("--grace-seconds", "600");
    expect(secondsFromNow(withGrace.previous_secret_expires_at!)).toBeGreaterThan(590);
    expect(await stored(withGrace.client_secret, firstSecret)).toBe(Math.floor(Date.parse(withGrace.previous_secret_expires_at!) / 1000));
    const shown = await adminHere(["client", "show", clientId, "--json"]);
    expect(JSON.parse(shown.stdout)).toMatchObject({ previous_secret_expires_at: withGrace.previous_secret_expires_at });

    const ended = await adminHere(["client", "end-secret-grace", clientId]);
    expect(ended.code).toBe(0);
    expect(ended.stdout).toMatch(/no longer accepts its previous secret/);
    await stored(withGrace.client_secret, null);
    expect(JSON.parse((await adminHere(["client", "show", clientId, "--json"])).stdout)).not.toHaveProperty("previous_secret_expires_at");

    const byDefault = await rotate();
    expect(secondsFromNow(byDefault.previous_secret_expires_at!)).toBeGreaterThan(25);
    expect(secondsFromNow(byDefault.previous_secret_expires_at!)).toBeLessThanOrEqual(30);
    await stored(byDefault.client_secret, withGrace.client_secret);

    const noGrace = await rotate("--grace-seconds", "0");
    expect(noGrace.previous_secret_expires_at).toBeNull();
    await stored(noGrace.client_secret, null);

    for (const bad of ["-1", "1.5", "abc", "9999999"]) {
      const run = await adminHere(["client", "rotate-secret", clientId, `--grace-seconds=${bad}`]);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/invalid --grace-seconds/);
    }
    await stored(noGrace.client_secret, null);
  });
});
