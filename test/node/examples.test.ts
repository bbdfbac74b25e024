/**
 * The examples against the package as published: `npm pack` (prepack builds dist/lib), each example
 * copied out of the tree with `edge-oauth-toolkit` installed from that tarball, type-checked and
 * bundled by wrangler; custom-sign-in and resource-server run together in Miniflare for one
 * sign-in, one API call and one revocation (mcp-server runs from source in test/node/mcp.test.ts,
 * with the MCP SDK's client).
 *
 * To save time and network, the copies install only their runtime dependencies and
 * @cloudflare/workers-types; tsc and wrangler are the root project's (the same versions the
 * examples' package.json ask for). What the examples resolve `edge-oauth-toolkit` to is checked:
 * the unpacked tarball in their own node_modules, never the source tree.
 */
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, lstatSync, readFileSync, realpathSync } from "node:fs";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { basename, join, relative, resolve } from "node:path";
import { Log, LogLevel, Miniflare, convertV4MiniflareOptions } from "miniflare";
import { unstable_readConfig } from "wrangler";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, WRANGLER_BIN, wranglerEnv } from "../../scripts/lib/project";
import { parseForms, UserAgent } from "./support/user-agent";

const EXAMPLES = ["custom-sign-in", "resource-server", "mcp-server"] as const;
type Example = (typeof EXAMPLES)[number];
const TSC_BIN = join(ROOT, "node_modules", "typescript", "bin", "tsc");
const PROVIDER = "http://localhost:8787";
const API = "http://localhost:8788";
const REDIRECT_URI = "http://localhost:3000/callback";

interface Run {
  code: number;
  output: string;
}

/** Runs a command to its end; stdout and stderr together, for failure messages. */
function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((done, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    const chunks: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => chunks.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => chunks.push(chunk));
    child.on("error", reject);
    child.on("close", (code) => done({ code: code ?? 1, output: Buffer.concat(chunks).toString("utf8") }));
  });
}

/**
 * npm without the `npm_*` variables of the `npm test` that runs us: `npm_config_local_prefix` and
 * friends would point a nested npm at the root project.
 */
function npm(args: string[], cwd: string): Promise<Run> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith("npm_")));
  return run("npm", args, cwd, { ...env, WRANGLER_SEND_METRICS: "false" });
}

const expectSuccess = (result: Run, what: string) => expect(result.code, `${what} failed:\n${result.output.slice(-4000)}`).toBe(0);

let work: string;
let tarball: string;
const dirs = {} as Record<Example, string>;
const bundles = {} as Record<Example, string>;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "eot-examples-"));
  const packDir = join(work, "pack");
  await mkdir(packDir);
  expectSuccess(await npm(["pack", "--pack-destination", packDir, "--silent"], ROOT), "npm pack");
  const packed = (await readdir(packDir)).filter((f) => f.endsWith(".tgz"));
  expect(packed).toHaveLength(1);
  tarball = join(packDir, packed[0]!);

  await Promise.all(
    EXAMPLES.map(async (name) => {
      const dir = join(work, name);
      dirs[name] = dir;
      await cp(join(ROOT, "examples", name), dir, {
        recursive: true,
        filter: (source) => ![".wrangler", "node_modules", ".dev.vars"].includes(basename(source)),
      });
      const manifest = JSON.parse(await readFile(join(dir, "package.json"), "utf8")) as {
        dependencies: Record<string, string>;
        devDependencies: Record<string, string>;
      };
      manifest.dependencies["edge-oauth-toolkit"] = `file:${tarball}`;
      // Run from the root project instead (same versions): installing them costs a minute and 100 MB.
      delete manifest.devDependencies.wrangler;
      delete manifest.devDependencies.typescript;
      await writeFile(join(dir, "package.json"), JSON.stringify(manifest, null, 2));
      expectSuccess(await npm(["install", "--prefer-offline", "--no-audit", "--no-fund"], dir), `npm install in ${name}`);
    }),
  );
}, 300_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe("examples, with edge-oauth-toolkit installed from its packed tarball", () => {
  it("resolve edge-oauth-toolkit to the unpacked tarball in their own node_modules", () => {
    const version = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
    for (const name of EXAMPLES) {
      const installed = join(dirs[name], "node_modules", "edge-oauth-toolkit");
      // A directory extracted from the tarball, not a link into the source tree.
      expect(lstatSync(installed).isSymbolicLink()).toBe(false);
      const entry = realpathSync(createRequire(join(dirs[name], "package.json")).resolve("edge-oauth-toolkit"));
      expect(entry).toBe(join(realpathSync(installed), "dist", "lib", "index.js"));
      expect(relative(ROOT, entry).startsWith("..")).toBe(true);
      expect(existsSync(join(installed, "src"))).toBe(false);
      expect((JSON.parse(readFileSync(join(installed, "package.json"), "utf8")) as { version: string }).version).toBe(version);
      // hono is a peer: one copy, the example's, so the provider's Hono app mounts in the example's.
      expect(existsSync(join(installed, "node_modules", "hono"))).toBe(false);
    }
  });

  it("type-check with tsc --noEmit", async () => {
    const results = await Promise.all(EXAMPLES.map((name) => run(process.execPath, [TSC_BIN, "--noEmit", "-p", dirs[name]], dirs[name])));
    results.forEach((result, i) => expectSuccess(result, `tsc in ${EXAMPLES[i]}`));
  }, 120_000);

  it("bundle with wrangler deploy --dry-run", async () => {
    const results = await Promise.all(
      EXAMPLES.map((name) => {
        bundles[name] = join(work, `${name}-bundle`);
        return run(process.execPath, [WRANGLER_BIN, "deploy", "--dry-run", "--outdir", bundles[name]], dirs[name], wranglerEnv());
      }),
    );
    results.forEach((result, i) => expectSuccess(result, `wrangler deploy --dry-run in ${EXAMPLES[i]}`));
    for (const name of EXAMPLES) expect(existsSync(join(bundles[name], "index.js"))).toBe(true);
  }, 120_000);

  describe("both Workers in Miniflare", () => {
    let mf: Miniflare;
    let apiWorker: Awaited<ReturnType<Miniflare["getWorker"]>>;
    /** A request to the resource server (Miniflare's fetch, typed as the global one). */
    const api = {
      fetch: async (url: string, init: RequestInit = {}) => (await apiWorker.fetch(url, init as never)) as unknown as Response,
    };
    const logs: string[] = [];
    const user = { id: crypto.randomUUID(), username: "alice", password: "correct horse battery" };
    const clientId = "example-spa";

    /** A browser of the provider: requests go to Miniflare's entry Worker, with the URL as given. */
    class ProviderAgent extends UserAgent {
      override async fetch(url: string | URL, init: RequestInit = {}): Promise<Response> {
        const target = new URL(url);
        const headers: Record<string, string> = {};
        new Headers(init.headers).forEach((value, name) => (headers[name] = value));
        const cookie = this.jar.header(target);
        if (cookie) headers.cookie = cookie;
        const res = (await mf.dispatchFetch(target, { ...init, headers, redirect: "manual" } as never)) as unknown as Response;
        this.jar.store(target, res.headers.getSetCookie());
        return res;
      }
    }

    beforeAll(async () => {
      expect(bundles["custom-sign-in"], "the bundles are made by the test before").toBeDefined();
      const [provider, resourceServer] = (["custom-sign-in", "resource-server"] as const).map((name) => workerOptions(dirs[name], bundles[name]));
      const keys = await run(process.execPath, ["scripts/dev-vars.mjs"], dirs["custom-sign-in"]);
      expectSuccess(keys, "scripts/dev-vars.mjs");
      const options = convertV4MiniflareOptions({
        cf: false,
        log: new Log(LogLevel.WARN),
        handleStructuredLogs: (log) => logs.push(log.message),
        workers: [
          // The example's secrets, as its scripts/dev-vars.mjs writes them into .dev.vars.
          { ...provider!, bindings: { ...provider!.bindings, ...parseDevVars(keys.output) } },
          resourceServer!,
        ],
      });
      mf = new Miniflare({ ...options, enableDevRegistry: false });
      await mf.ready;
      apiWorker = await mf.getWorker("example-resource-server");

      // The migrations the package ships, from the migrations_dir wrangler.toml names.
      const config = unstable_readConfig({ config: join(dirs["custom-sign-in"], "wrangler.toml") }, { hideWarnings: true });
      const migrationsDir = resolve(dirs["custom-sign-in"], config.d1_databases[0]!.migrations_dir!);
      expect(realpathSync(migrationsDir).startsWith(realpathSync(join(dirs["custom-sign-in"], "node_modules", "edge-oauth-toolkit")))).toBe(true);
      const db = await mf.getD1Database("AUTH_DB", "example-custom-sign-in");
      await applyMigrations(db, migrationsDir);

      // A public client (PKCE) and a user, as the example's README registers them.
      const hash = await run(process.execPath, ["scripts/hash-password.mjs", user.password], dirs["custom-sign-in"]);
      expectSuccess(hash, "scripts/hash-password.mjs");
      await db
        .prepare(
          "INSERT INTO clients (id, name, client_type, token_endpoint_auth_method, grant_types, redirect_uris, scope) VALUES (?, ?, 'public', 'none', ?, ?, 'read write')",
        )
        .bind(clientId, "Example SPA", JSON.stringify(["authorization_code", "refresh_token"]), JSON.stringify([REDIRECT_URI]))
        .run();
      await db.prepare("INSERT INTO users (id, username, password_hash) VALUES (?, ?, ?)").bind(user.id, user.username, hash.output.trim()).run();
    }, 120_000);

    afterAll(async () => {
      await mf?.dispose();
    });

    it("signs in on the example's page, calls the API with the token, and is refused once it is revoked", async () => {
      const agent = new ProviderAgent();
      const verifier = randomBytes(32).toString("base64url");
      const authorize = new URL(`${PROVIDER}/auth/authorize`);
      authorize.search = new URLSearchParams({
        response_type: "code",
        client_id: clientId,
        redirect_uri: REDIRECT_URI,
        scope: "read",
        state: "state-1",
        code_challenge: createHash("sha256").update(verifier).digest("base64url"),
        code_challenge_method: "S256",
      }).toString();

      let res = await agent.fetch(authorize);
      const loginUrl = redirectOf(res, authorize);
      expect(loginUrl.pathname).toMatch(/^\/auth\/login\/?$/);
      res = await agent.fetch(loginUrl);
      let html = await res.text();
      expect(res.status).toBe(200);
      expect(html).toContain("<h1>Sign in to Example Co.</h1>");
      // The hidden fields' values are escaped: the `next` URL's `&` comes back as `&amp;`.
      expect(html).toMatch(/<input type="hidden" name="next" value="[^"]*&amp;[^"]*" \/>/);

      // A wrong password: the page again, with the error and the username escaped.
      const hostile = `<script>alert("x")</script>`;
      res = await agent.submit(loginUrl, parseForms(html)[0]!, { username: hostile, password: "wrong" });
      html = await res.text();
      expect(res.status).toBe(400);
      expect(html).toContain("<h1>Sign in to Example Co.</h1>");
      expect(html).toContain(`<p class="error" role="alert">Invalid username or password.</p>`);
      expect(html).toContain(`value="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"`);
      expect(html).not.toContain("<script");

      res = await agent.submit(loginUrl, parseForms(html)[0]!, { username: user.username, password: user.password });
      const back = redirectOf(res, loginUrl);
      expect(back.pathname).toMatch(/^\/auth\/authorize\/?$/);
      res = await agent.fetch(back);
      html = await res.text();
      expect(res.status).toBe(200);
      // Consent is the package's own page (only `login` was replaced).
      const consent = parseForms(html).find((form) => "allow" in form.buttons);
      expect(consent, html.slice(0, 2000)).toBeDefined();
      res = await agent.submit(back, consent!, { allow: consent!.buttons.allow! });
      const callback = redirectOf(res, back);
      expect(`${callback.origin}${callback.pathname}`).toBe(REDIRECT_URI);
      expect(callback.searchParams.get("state")).toBe("state-1");
      expect(callback.searchParams.get("iss")).toBe(`${PROVIDER}/auth`);

      res = await agent.fetch(`${PROVIDER}/auth/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({
          grant_type: "authorization_code",
          code: callback.searchParams.get("code")!,
          redirect_uri: REDIRECT_URI,
          client_id: clientId,
          code_verifier: verifier,
        }).toString(),
      });
      const tokens = (await res.json()) as { access_token: string; scope: string };
      expect(res.status, JSON.stringify(tokens)).toBe(200);
      expect(tokens.scope).toBe("read");
      const bearer = { authorization: `Bearer ${tokens.access_token}` };

      // The resource server fetches the JWKS through its service binding and checks the shared KV.
      res = await api.fetch(`${API}/api/orders`, { headers: bearer });
      const orders = (await res.json()) as { user: string; client: string; scope: string };
      expect(res.status, JSON.stringify(orders)).toBe(200);
      expect(orders).toMatchObject({ user: user.id, client: clientId, scope: "read" });
      res = await api.fetch(`${API}/api/orders`, { method: "POST", headers: bearer });
      expect(res.status).toBe(403);
      expect(res.headers.get("www-authenticate")).toContain('error="insufficient_scope"');

      const sharedKv = await mf.getKVNamespace("AUTH_KV", "example-resource-server");
      const notesBefore = (await sharedKv.list()).keys.length;
      res = await agent.fetch(`${PROVIDER}/auth/revoke_token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ token: tokens.access_token, client_id: clientId }).toString(),
      });
      expect(res.status).toBe(200);
      // The provider wrote the note; the resource server sees it under its own binding of the namespace.
      expect((await sharedKv.list()).keys.length).toBeGreaterThan(notesBefore);
      res = await api.fetch(`${API}/api/orders`, { headers: bearer });
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer .*error="invalid_token"/);
    }, 60_000);

    it("the API answers 401 with a Bearer challenge without a token, and rejects a forged one", async () => {
      let res = await api.fetch(`${API}/api/orders`);
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer realm="api"/);
      res = await api.fetch(`${API}/api/orders`, { headers: { authorization: "Bearer eyJhbGciOiJFUzI1NiJ9.e30.c2ln" } });
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toContain('error="invalid_token"');
    });

    it("the provider's Cron handler runs scheduledCleanup with the example's binding names", async () => {
      const provider = await mf.getWorker("example-custom-sign-in");
      const result = await provider.scheduled({ cron: "17 * * * *" });
      expect(result.outcome).toBe("ok");
      // scheduledCleanup logs its report, or "cleartokens failed" (e.g. without the AUTH_DB binding).
      expect(logs.some((line) => line.includes("cleartokens"))).toBe(true);
      expect(logs.some((line) => line.includes("cleartokens failed"))).toBe(false);
    });
  });
});

/** Miniflare options of an example's bundle, with the bindings its wrangler.toml declares. */
function workerOptions(dir: string, bundleDir: string) {
  const config = unstable_readConfig({ config: join(dir, "wrangler.toml") }, { hideWarnings: true });
  const vars: Record<string, string> = {};
  for (const [name, value] of Object.entries(config.vars ?? {})) vars[name] = typeof value === "string" ? value : JSON.stringify(value);
  return {
    name: config.name!,
    modules: true as const,
    scriptPath: join(bundleDir, "index.js"),
    modulesRoot: bundleDir,
    compatibilityDate: config.compatibility_date!,
    compatibilityFlags: config.compatibility_flags ?? [],
    bindings: vars as Record<string, string>,
    // Bindings with the same id share their storage across the two Workers, as on Cloudflare.
    d1Databases: Object.fromEntries(config.d1_databases.map((d: { binding: string; database_id?: string }) => [d.binding, d.database_id!])),
    kvNamespaces: Object.fromEntries(config.kv_namespaces.map((k: { binding: string; id?: string }) => [k.binding, k.id!])),
    serviceBindings: Object.fromEntries((config.services ?? []).map((s: { binding: string; service: string }) => [s.binding, s.service])),
  };
}

/** Where a redirect (302 or 303) sends the browser. */
function redirectOf(res: Response, base: URL): URL {
  expect([302, 303], `status ${res.status} at ${base.pathname}`).toContain(res.status);
  return new URL(res.headers.get("location")!, base);
}

/** `NAME='value'` lines of a .dev.vars file. */
function parseDevVars(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const match of text.matchAll(/^(\w+)='([^']*)'$/gm)) out[match[1]!] = match[2]!;
  expect(Object.keys(out).sort()).toEqual(["AUTH_SECRET_KEY", "AUTH_SIGNING_KEYS"]);
  return out;
}

/** The shipped migrations in order, split the way `wrangler d1 migrations apply` splits them. */
async function applyMigrations(db: { prepare(sql: string): { run(): Promise<unknown> } }, dir: string): Promise<void> {
  const files = (await readdir(dir)).filter((f) => f.endsWith(".sql")).sort();
  expect(files.length).toBeGreaterThan(0);
  for (const file of files) {
    const statements = (await readFile(join(dir, file), "utf8")).split("--> statement-breakpoint").map((s) => s.trim()).filter(Boolean);
    for (const statement of statements) await db.prepare(statement).run();
  }
}
