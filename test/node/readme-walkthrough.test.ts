/**
 * The README's "Walkthrough with curl", run as written: its ```sh blocks, top to bottom, in one
 * bash (errexit, nounset, pipefail), against `npm start`, with the banner's export line in place of
 * the README's placeholder one. The checks read what the commands print, so a README command that
 * breaks (a wrong flag, a changed page, a missing variable) fails the test.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ROOT } from "../../scripts/lib/project";
import { npmStart, type NpmStartRun } from "./support/npm-start";
import { freePort } from "./support/server";

const PLACEHOLDER_EXPORT = /^export BASE=\S+ CLIENT_ID=\.\.\. CLIENT_SECRET=\.\.\.$/;

/** The ```sh blocks of the README's section with this heading, in order. */
function shellBlocks(heading: string): string[] {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const start = readme.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`README.md has no section "${heading}"`);
  const end = readme.indexOf("\n## ", start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]!.trimEnd());
}

interface ShellResult {
  code: number;
  stdout: string;
  stderr: string;
}

function bash(script: string, cwd: string): Promise<ShellResult> {
  return new Promise((resolve) => {
    execFile("bash", ["-c", script], { cwd, timeout: 60_000, maxBuffer: 10_000_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * The JSON objects in the output, in order. curl prints no newline after a body, so objects may
 * share a line with each other or with the next command's output (braces inside strings are skipped).
 */
function jsonObjects(stdout: string): Record<string, unknown>[] {
  const objects: Record<string, unknown>[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < stdout.length; i++) {
    const ch = stdout[i];
    if (inString) {
      if (ch === "\\") i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"' && depth > 0) inString = true;
    else if (ch === "{" && depth++ === 0) start = i;
    else if (ch === "}" && depth > 0 && --depth === 0) objects.push(JSON.parse(stdout.slice(start, i + 1)) as Record<string, unknown>);
  }
  return objects;
}

const dir = mkdtempSync(join(tmpdir(), "eot-readme-"));
let run: NpmStartRun | undefined;
beforeAll(async () => {
  run = await npmStart({ port: await freePort(), stateDir: join(dir, "state"), devVars: join(dir, "dev.vars") });
}, 150_000);
afterAll(async () => {
  await run?.stop();
  rmSync(dir, { recursive: true, force: true });
});

it("the walkthrough with curl runs top to bottom against npm start", { timeout: 90_000 }, async () => {
  const blocks = shellBlocks("Walkthrough with curl");
  expect(blocks.length).toBeGreaterThan(3);
  // The first block is the line to paste from npm start's banner: the same variables.
  expect(blocks[0]).toMatch(PLACEHOLDER_EXPORT);
  expect(run!.banner.exportLine.replace(/=\S+/g, "=")).toBe(blocks[0]!.replace(/=\S+/g, "="));
  expect(blocks.join("\n")).not.toContain("from the callback page");

  const script = ["set -euo pipefail", run!.banner.exportLine, ...blocks.slice(1)].join("\n");
  const { code, stdout, stderr } = await bash(script, dir);
  const report = `--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`;
  expect(code, report).toBe(0);
  expect(stderr, report).toBe("");

  const { base, clientId } = run!.banner;
  const json = jsonObjects(stdout);
  // Client credentials, the protected API, introspection before and after revocation.
  expect(json[0], report).toMatchObject({ token_type: "Bearer", scope: "read", access_token: expect.any(String) });
  expect(json, report).toContainEqual(expect.objectContaining({ client_id: clientId, scope: "read" }));
  const active = json.findIndex((o) => o.active === true);
  const inactive = json.findIndex((o) => o.active === false);
  expect(active, report).toBeGreaterThan(0);
  expect(inactive, report).toBeGreaterThan(active);
  expect(json[inactive], report).toEqual({ active: false });

  // The curl-only sign-in lands on the callback with a code, then the code and the refresh token work.
  expect(stdout, report).toMatch(new RegExp(`${base}/demo/callback\\?code=[\\w-]+&state=xyz&iss=`));
  const issued = json.filter((o) => typeof o.refresh_token === "string");
  expect(issued, report).toHaveLength(2);
  expect(issued[0], report).toMatchObject({ token_type: "Bearer", scope: "read", access_token: expect.any(String) });
  expect(issued[1], report).toMatchObject({ token_type: "Bearer", scope: "read", access_token: expect.any(String) });
  expect(issued[1]!.refresh_token, "the refresh token was rotated").not.toBe(issued[0]!.refresh_token);
  expect(json.at(-1), "the refresh is the last command").toBe(issued[1]);
});
