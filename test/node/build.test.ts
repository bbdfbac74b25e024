import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, expect, it } from "vitest";
import { runWrangler, type WranglerResult } from "../../scripts/lib/project";

const outdir = mkdtempSync(join(tmpdir(), "eot-build-"));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

/**
 * Budget for the uploaded script, gzip: about 137 KiB today (97 before the operator console, the
 * device grant, PAR, JWT client authentication, DPoP and token exchange; of the minified script,
 * the OpenAPI description is an eighth, the console's pages and routes another). Classic zod
 * (every locale) would still exceed it; the startup it costs is measured by `npm run bench`.
 */
const MAX_GZIP_KIB = 150;

// What `wrangler deploy` would upload, checked without an account (the README's deploy section).
let build: Promise<WranglerResult> | undefined;
function bundle(): Promise<WranglerResult> {
  build ??= runWrangler(["deploy", "--dry-run", "--outdir", outdir]);
  return build;
}

it("wrangler deploy --dry-run bundles the Worker", async () => {
  const result = await bundle();
  expect(result.code, result.stderr || result.stdout).toBe(0);
  const size = statSync(join(outdir, "index.js")).size;
  expect(size).toBeGreaterThan(10_000);
  // Workers' free plan accepts 3 MiB compressed; stay well below it uncompressed.
  expect(size).toBeLessThan(3 * 1024 * 1024);
}, 120_000);

// The upload budget; `npm run bench` prints the startup time, which classic zod (not the size) doubled.
it(`the Worker's bundle is at most ${MAX_GZIP_KIB} KiB gzip`, async () => {
  const result = await bundle();
  expect(result.code, result.stderr || result.stdout).toBe(0);
  const gzipKiB = gzipSync(readFileSync(join(outdir, "index.js"))).length / 1024;
  expect(gzipKiB, `index.js is ${gzipKiB.toFixed(1)} KiB gzip`).toBeLessThanOrEqual(MAX_GZIP_KIB);
}, 120_000);
