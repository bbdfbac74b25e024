/**
 * `client rotate-secret --grace-seconds N` and `client end-secret-grace`, checked in the local D1
 * they act on. One real process creates the client (and applies the migrations); the rest run
 * through the same `main()`. Serving the secrets is tested in test/worker/secret-rotation.test.ts.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../scripts/admin";
import { openLocalDatabase, type LocalDatabase } from "../../scripts/lib/local-db";
import { ROOT } from "../../scripts/lib/project";
import { secretMatchesHash } from "../../src/crypto";
import { findClient } from "../../src/db/clients";

const stateDir = join(mkdtempSync(join(tmpdir(), "eot-admin-secrets-")), "state");
const state = ["--persist-to", stateDir];
let local: LocalDatabase;
let clientId: string;
let firstSecret: string;

beforeAll(async () => {
  const env = { ...process.env, PATH: `${join(ROOT, "node_modules", ".bin")}:${process.env.PATH ?? ""}`, WRANGLER_SEND_METRICS: "false" };
  const created = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const args = [
      "--import", "tsx", join(ROOT, "scripts", "admin.ts"),
      "client", "create", "--name", "Service", "--type", "confidential", "--grant-types", "client_credentials", "--json", ...state,
    ];
    const child = spawn(process.execPath, args, { cwd: ROOT, env });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
  expect(created.code, created.stderr).toBe(0);
  ({ client_id: clientId, client_secret: firstSecret } = JSON.parse(created.stdout) as { client_id: string; client_secret: string });
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
