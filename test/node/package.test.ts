import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, runWrangler } from "../../scripts/lib/project";

const packageJson = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  scripts: Record<string, string>;
  exports: Record<string, { types: string; default: string }>;
  files: string[];
  peerDependencies: Record<string, string>;
  dependencies: Record<string, string>;
};

// Inside node_modules, so the built module resolves hono, jose, drizzle and zod as a consumer's would.
const work = join(ROOT, "node_modules", ".cache", `package-test-${process.pid}`);
const out = join(work, "out");
const bin = (name: string) => join(ROOT, "node_modules", ".bin", name);

beforeAll(() => {
  mkdirSync(work, { recursive: true });
  const build = spawnSync(bin("tsdown"), ["--out-dir", out], { cwd: ROOT, encoding: "utf8" });
  expect(build.status, build.stderr || build.stdout).toBe(0);
}, 120_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("the npm package", () => {
  it("points its exports at the built ESM and declarations, with hono as a peer and only built files shipped", () => {
    expect(packageJson.exports["."]).toEqual({ types: "./dist/lib/index.d.ts", default: "./dist/lib/index.js" });
    // The docs' text, not their screenshots (docs/screenshots, ~380 KB of PNG).
    expect(packageJson.files).toEqual(["dist/lib", "migrations/*.sql", "docs/*.md"]);
    expect(Object.keys(packageJson.peerDependencies)).toEqual(["hono"]);
    expect(packageJson.dependencies).not.toHaveProperty("hono");
  });

  it("imports in Node (no TypeScript, no JSX) and exposes the public API", async () => {
    const lib = (await import(join(out, "index.js"))) as Record<string, unknown>;
    expect(Object.keys(lib).sort()).toEqual(["OAuthError", "createProvider", "defaultPages", "generateSigningKeySet", "protectedResourceMetadata", "requireToken", "resourceMetadataUrl", "scheduledCleanup"]);
    const app = (lib.createProvider as (options: object) => { fetch: unknown; routes: { path: string }[] })({ basePath: "/auth" });
    expect(typeof app.fetch).toBe("function");
    expect(app.routes.some((route) => route.path === "/auth/token")).toBe(true);
  });

  // skipLibCheck as Workers projects set it (drizzle's declarations name drivers that are not installed);
  // the consumer's own code still needs every type it uses from ours to resolve.
  it("type-checks a consumer's Worker against the declarations alone (strict, no JSX settings)", () => {
    const consumer = join(work, "consumer.ts");
    writeFileSync(
      consumer,
      `import { Hono } from "hono";
import { createProvider, requireToken, scheduledCleanup, OAuthError, defaultPages, type LoginPageProps, type ProviderEnv, type RequireTokenVariables } from "./out/index.js";
const bindings = { database: "AUTH_DB", kv: "AUTH_KV" };
const app = new Hono<{ Bindings: { AUTH_DB: D1Database; AUTH_KV: KVNamespace }; Variables: RequireTokenVariables }>();
const login = (props: LoginPageProps, c: import("hono").Context) => defaultPages.login(props, c);
app.route("/", createProvider({ bindings, pages: { login }, settings: { ACCESS_TOKEN_EXPIRE_SECONDS: 600 } }));
app.get("/api", requireToken({ scopes: ["read"], revocation: "AUTH_KV" }), (c) => c.json({ sub: c.get("accessToken").sub }));
const failure: OAuthError = new OAuthError("invalid_request", "bad");
const env: ProviderEnv["Bindings"] = {};
// @ts-expect-error options are typed
createProvider({ basePath: 42 });
// @ts-expect-error settings are typed: a lifetime is a number of seconds
createProvider({ settings: { ACCESS_TOKEN_EXPIRE_SECONDS: "soon" } });
createProvider({ settings: { DEFAULT_SCOPES: ["read"], ROTATE_REFRESH_TOKEN: false, SCOPES: { read: "Read" } } });
export default { fetch: app.fetch, scheduled: scheduledCleanup({ bindings }), failure, env };
`,
    );
    const tsc = spawnSync(
      bin("tsc"),
      ["--noEmit", "--strict", "--target", "es2022", "--module", "esnext", "--moduleResolution", "bundler", "--lib", "es2023", "--types", "@cloudflare/workers-types", "--skipLibCheck", consumer],
      { cwd: ROOT, encoding: "utf8" },
    );
    expect(tsc.status, tsc.stdout + tsc.stderr).toBe(0);
  }, 60_000);

  it("ships the SQL migrations that consumers apply with wrangler d1 migrations apply", () => {
    const journal = JSON.parse(readFileSync(join(ROOT, "migrations", "meta", "_journal.json"), "utf8")) as { entries: { tag: string }[] };
    expect(journal.entries.length).toBeGreaterThan(0);
    for (const { tag } of journal.entries) expect(readFileSync(join(ROOT, "migrations", `${tag}.sql`), "utf8")).toMatch(/CREATE TABLE|ALTER TABLE/);
  });
});

describe("Workers conventions", () => {
  it("worker-configuration.d.ts is what `npm run cf-typegen` generates from wrangler.toml (run it after changing bindings or vars)", async () => {
    const args = packageJson.scripts["cf-typegen"]!.split(/\s+/).slice(1);
    const check = await runWrangler([...args, "--check"]);
    expect(check.code, check.stdout + check.stderr).toBe(0);
  }, 60_000);

  it("has the scripts Workers developers expect", () => {
    for (const name of ["dev", "deploy", "cf-typegen", "db:migrate:local", "db:migrate:remote"]) expect(packageJson.scripts).toHaveProperty(name);
    expect(packageJson.scripts["db:migrate:remote"]).toBe("wrangler d1 migrations apply DB --remote");
  });
});
