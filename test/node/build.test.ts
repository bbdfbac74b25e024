import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { runWrangler } from "../../scripts/lib/project";

const outdir = mkdtempSync(join(tmpdir(), "eot-build-"));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

// What `wrangler deploy` would upload, checked without an account (the README's deploy section).
it("wrangler deploy --dry-run bundles the Worker", async () => {
  const result = await runWrangler(["deploy", "--dry-run", "--outdir", outdir]);
  expect(result.code, result.stderr || result.stdout).toBe(0);
  const size = statSync(join(outdir, "index.js")).size;
  expect(size).toBeGreaterThan(10_000);
  // Workers' free plan accepts 3 MiB compressed; stay well below it uncompressed.
  expect(size).toBeLessThan(3 * 1024 * 1024);
}, 120_000);
