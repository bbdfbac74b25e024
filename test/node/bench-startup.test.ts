import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Bundle, WranglerSettings } from "../../scripts/bench/server";
import { measureStartup, median } from "../../scripts/bench/startup";

const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

/** A one-file "bundle" whose /healthz answers `status`, and which records that it saw its vars. */
function fakeBundle(status: number): Bundle {
  const dir = mkdtempSync(join(tmpdir(), "eot-startup-"));
  dirs.push(dir);
  const script = join(dir, "index.js");
  writeFileSync(
    script,
    `export default { fetch(request, env) {
      const path = new URL(request.url).pathname;
      const ok = path === "/healthz" && env.GREETING === "hello" && typeof env.SIGNING_KEYS === "string";
      return new Response("checked", { status: ok ? ${status} : 500 });
    } };`,
  );
  return { dir, script, bytes: 0, gzipBytes: 0 };
}

const settings: WranglerSettings = {
  compatibilityDate: "2026-11-01",
  compatibilityFlags: [],
  vars: { GREETING: "hello" },
  migrationsDir: "",
};

describe("bench: startup time", () => {
  it("median of odd and even counts", () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(() => median([])).toThrow();
  });

  it("loads the bundle in new isolates, with the Worker's vars, and reports every sample", async () => {
    const result = await measureStartup(fakeBundle(200), settings, 2, () => {});
    expect(result.runs).toBe(2);
    expect(result.bundleSamplesMs).toHaveLength(2);
    expect(result.trivialSamplesMs).toHaveLength(2);
    expect(result.startupMs).toBe(result.bundleMedianMs - result.trivialMedianMs);
    expect(result.method).toMatch(/Worker Loader/);
  }, 60_000);

  it("gives no figure for a Worker whose first request fails", async () => {
    await expect(measureStartup(fakeBundle(503), settings, 1, () => {})).rejects.toThrow(/GET \/healthz with 503/);
  }, 60_000);
});
