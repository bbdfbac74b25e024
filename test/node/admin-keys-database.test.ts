/**
 * The admin CLI's `db-keys` commands (DATABASE_SIGNING_KEYS): add, list, promote and retire keys
 * kept in the local D1, with the console's rules, checked in the database they act on. One real
 * process adds the first key (and applies the migrations); the rest run through the same `main()`.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import type { JWK } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openLocalDatabase, type LocalDatabase } from "../../scripts/lib/local-db";
import { signingKeys } from "../../src/db/schema";
import { findSigningKey } from "../../src/db/signing-keys";
import { generateSigningKeySet } from "../../src/tokens/generate-keys";
import { PROMOTION_DELAY_SECONDS } from "../../src/tokens/database-keys";
import { unseal } from "../../src/tokens/sealed";
import { adminInProcess, adminProcess, cliEnv } from "./support/admin";

const dir = mkdtempSync(join(tmpdir(), "eot-admin-db-keys-"));
const stateDir = join(dir, "state");
const state = ["--persist-to", stateDir];
const devVars = join(dir, ".dev.vars");
const secret = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
let secretSet: { keys: JWK[] };
let local: LocalDatabase;
let firstKid: string;
const previousDevVars = process.env.EOT_DEV_VARS;
const now = () => Math.floor(Date.now() / 1000);

beforeAll(async () => {
  secretSet = await generateSigningKeySet();
  writeFileSync(devVars, `SIGNING_KEYS='${JSON.stringify(secretSet)}'\nSECRET_KEY='${secret}'\n`, { mode: 0o600 });
  // The in-process runs read the same .dev.vars (SECRET_KEY to seal, SIGNING_KEYS to name secret keys).
  process.env.EOT_DEV_VARS = devVars;
  const added = await adminProcess(["db-keys", "add", "--alg", "ES256", "--json", ...state], { ...cliEnv, EOT_DEV_VARS: devVars, SECRET_KEY: "" });
  expect(added.code, added.stderr).toBe(0);
  firstKid = (JSON.parse(added.stdout) as { kid: string }).kid;
  local = await openLocalDatabase(stateDir);
});

afterAll(async () => {
  if (previousDevVars === undefined) delete process.env.EOT_DEV_VARS;
  else process.env.EOT_DEV_VARS = previousDevVars;
  await local?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

const admin = (args: string[]) => adminInProcess([...args, ...state], async () => ({ ...local, dispose: async () => {} }));
const adminJson = async (args: string[]) => {
  const run = await admin([...args, "--json"]);
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as unknown;
};
const backdate = (kid: string, times: { createdAt?: number; signsFrom?: number | null }) =>
  local.db.update(signingKeys).set(times).where(eq(signingKeys.kid, kid)).run();

describe("admin CLI: db-keys", () => {
  it("add seals the private key under SECRET_KEY (from .dev.vars) and publishes the key; list shows it", async () => {
    const row = (await findSigningKey(local.db, firstKid))!;
    expect(row).toMatchObject({ alg: "ES256", signsFrom: null, retiredAt: null });
    const jwk = (await unseal<JWK>(secret, "signing-key", row.sealedPrivateJwk))!;
    expect(jwk).toMatchObject({ kid: firstKid, alg: "ES256", d: expect.any(String) });
    expect(row.publicJwk).not.toHaveProperty("d");
    expect(await adminJson(["db-keys", "list"])).toEqual([
      { kid: firstKid, alg: "ES256", role: "published", created_at: expect.any(String), signs_from: null, retired_at: null },
    ]);
    const text = await admin(["db-keys", "list"]);
    expect(text.stdout).toMatch(new RegExp(`^KID +ALG +ROLE +ADDED\\n${firstKid} +ES256 +published `));
  });

  it("promote schedules the key at added + the delay, and refuses a second promotion and a secret key", async () => {
    const created = (await findSigningKey(local.db, firstKid))!.createdAt;
    const promoted = (await adminJson(["db-keys", "promote", `--kid=${firstKid}`])) as { signs_from: string };
    expect(promoted).toEqual({ kid: firstKid, alg: "ES256", signs_from: new Date((created + PROMOTION_DELAY_SECONDS) * 1000).toISOString() });
    expect((await findSigningKey(local.db, firstKid))!.signsFrom).toBe(created + PROMOTION_DELAY_SECONDS);
    expect(((await adminJson(["db-keys", "list"])) as { role: string }[])[0]!.role).toBe("scheduled");

    const again = await admin(["db-keys", "promote", `--kid=${firstKid}`]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already promoted: it signs from/);
    const secretKid = secretSet.keys[0]!.kid!;
    const secretOne = await admin(["db-keys", "promote", `--kid=${secretKid}`]);
    expect(secretOne.code).toBe(1);
    expect(secretOne.stderr).toMatch(/is in the SIGNING_KEYS secret/);
    expect((await admin(["db-keys", "promote"])).code).toBe(2);
  });

  it("retire refuses the signing key and one whose tokens may still be valid, then retires it", async () => {
    await backdate(firstKid, { createdAt: now() - 7200, signsFrom: now() - 7000 });
    const signing = await admin(["db-keys", "retire", `--kid=${firstKid}`]);
    expect(signing.code).toBe(1);
    expect(signing.stderr).toMatch(/signs ES256 tokens: make another ES256 key sign first/);

    const second = (await adminJson(["db-keys", "add", "--alg", "ES256"])) as { kid: string };
    await backdate(second.kid, { createdAt: now() - 3600, signsFrom: now() - 1 });
    const roles = (await adminJson(["db-keys", "list"])) as { kid: string; role: string }[];
    expect(Object.fromEntries(roles.map((r) => [r.kid, r.role]))).toEqual({ [firstKid]: "signed", [second.kid]: "signs" });
    const tooSoon = await admin(["db-keys", "retire", `--kid=${firstKid}`]);
    expect(tooSoon.code).toBe(1);
    expect(tooSoon.stderr).toMatch(/may still be valid \(they live up to 3600 s\): retire it from/);

    await backdate(second.kid, { signsFrom: now() - 3600 - 60 - 5 });
    const retired = (await adminJson(["db-keys", "retire", `--kid=${firstKid}`])) as { retired_at: string };
    expect(retired).toEqual({ kid: firstKid, retired_at: expect.any(String) });
    expect((await findSigningKey(local.db, firstKid))!.retiredAt).not.toBeNull();
    const after = (await adminJson(["db-keys", "list"])) as { kid: string; role: string }[];
    expect(after.find((r) => r.kid === firstKid)!.role).toBe("retired");
    expect((await admin(["db-keys", "retire", `--kid=${firstKid}`])).stderr).toMatch(/is retired/);
  });
});
