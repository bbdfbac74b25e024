/**
 * `--json` prints exactly one JSON document on stdout, also with the `.dev.vars` that `npm start`
 * writes (wrangler announced "Using secrets defined in .dev.vars" on stdout before it). Each
 * command here is a real process, since wrangler's chatter goes to the process's stdout.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "../../scripts/lib/project";
import { generateSigningKeySet } from "../../src/tokens/generate-keys";
import { adminProcess } from "./support/admin";

const devVars = join(ROOT, ".dev.vars");
const stateDir = join(mkdtempSync(join(tmpdir(), "eot-admin-json-")), "state");
const state = ["--persist-to", stateDir];
let wroteDevVars = false;

beforeAll(async () => {
  // The project's own .dev.vars when there is one (npm start wrote it); else one of the same shape.
  if (!existsSync(devVars)) {
    const secret = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
    writeFileSync(devVars, `SIGNING_KEYS=${JSON.stringify(await generateSigningKeySet())}\nSECRET_KEY=${secret}\n`, { mode: 0o600 });
    wroteDevVars = true;
  }
});

afterAll(() => {
  if (wroteDevVars) rmSync(devVars, { force: true });
  rmSync(join(stateDir, ".."), { recursive: true, force: true });
});

async function json(args: string[]): Promise<unknown> {
  const run = await adminProcess([...args, "--json", ...state]);
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as unknown;
}

describe("admin CLI --json with the project's .dev.vars", () => {
  it("every output is one JSON document: database commands (which start wrangler's runtime) and key commands", { timeout: 120_000 }, async () => {
    expect(await json(["user", "list"])).toEqual([]);
    const created = (await json(["client", "create", "--name", "Json", "--type", "confidential", "--grant-types", "client_credentials"])) as {
      client_id: string;
    };
    expect(created.client_id).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(await json(["client", "list"])).toHaveLength(1);
    expect(await json(["cleartokens"])).toMatchObject({ refreshTokens: 0 });
    expect(await json(["keys", "list"])).toHaveLength(3);
  });
});
