import { spawn } from "node:child_process";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { convertV4MiniflareOptions, Log, LogLevel, Miniflare, type V4WorkerOptions } from "miniflare";
import { unstable_readConfig } from "wrangler";
import { openDatabase } from "../../src/db/index";
import { registerClient, registerUser } from "../../src/db/registration";
import { hashSecret, randomToken } from "../../src/core/crypto";
import type { JWK } from "jose";
import { generateSigningKey, generateSigningKeySet } from "../../src/tokens/generate-keys";
import type { BenchContext } from "./types";

export const BENCH_REDIRECT_URI = "https://bench.example/callback";
const BENCH_PASSWORD = "bench password 1";
/** The ceiling Worker's name in Miniflare (the product's Worker is the unnamed first one). */
export const CEILING_WORKER = "bench-ceiling";
export const PROBE_WORKER = "bench-probe";
const BENCH_ISSUER = "http://127.0.0.1/o";
/** The ceiling Worker's issuer (it does not depend on the request's host). */
export const CEILING_ISSUER = "https://ceiling.bench.example";

export interface Bundle {
  dir: string;
  script: string;
  bytes: number;
  gzipBytes: number;
}

/**
 * `wrangler deploy --dry-run --outdir DIR`: the same bundle that would be uploaded. With `config`,
 * that wrangler configuration file instead of the project's wrangler.toml.
 */
export async function bundleWorker(root: string, outdir: string, config?: string): Promise<Bundle> {
  await rm(outdir, { recursive: true, force: true });
  const wrangler = path.join(root, "node_modules", ".bin", "wrangler");
  const output = await new Promise<string>((resolve, reject) => {
    const args = ["deploy", "--dry-run", "--outdir", outdir, ...(config ? ["--config", config] : [])];
    const child = spawn(wrangler, args, {
      cwd: root,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "1", NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let text = "";
    child.stdout.on("data", (chunk: Buffer) => (text += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (text += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve(text) : reject(new Error(`wrangler deploy --dry-run failed (exit ${code}):\n${text}`)),
    );
  });
  const files = (await readdir(outdir).catch(() => [] as string[])).filter((f) => !f.endsWith(".map") && !f.endsWith(".md"));
  // The main module is named after the entry file: index.js for src/index.ts.
  const scripts = files.filter((f) => /\.m?js$/.test(f));
  const main = scripts.includes("index.js") ? "index.js" : scripts.length === 1 ? scripts[0] : undefined;
  if (!main) throw new Error(`wrangler wrote no main module to ${outdir} (${files.join(", ") || "nothing"}):\n${output}`);
  const script = path.join(outdir, main);
  let bytes = 0;
  let gzipBytes = 0;
  for (const file of files) {
    const content = await readFile(path.join(outdir, file));
    bytes += content.length;
    gzipBytes += gzipSync(content).length;
  }
  return { dir: outdir, script, bytes, gzipBytes };
}

/**
 * Bundles the ceiling Worker (ceiling/worker.ts) the way the product is bundled: wrangler deploy
 * --dry-run, with the product's compatibility date and flags and its minify and keep_names settings.
 */
export async function bundleCeilingWorker(root: string, outdir: string, settings: WranglerSettings): Promise<Bundle> {
  const configDir = `${outdir}-config`;
  await mkdir(configDir, { recursive: true });
  const config = path.join(configDir, "wrangler.json");
  await writeFile(
    config,
    JSON.stringify(
      {
        name: CEILING_WORKER,
        main: path.join(root, "scripts", "bench", "ceiling", "worker.ts"),
        compatibility_date: settings.compatibilityDate,
        compatibility_flags: settings.compatibilityFlags,
        minify: settings.minify ?? false,
        keep_names: settings.keepNames ?? true,
      },
      null,
      2,
    ),
  );
  return bundleWorker(root, outdir, config);
}

export interface WranglerSettings {
  compatibilityDate: string;
  compatibilityFlags: string[];
  vars: Record<string, string>;
  migrationsDir: string;
  /** wrangler.toml's `minify` (the ceiling Worker is bundled with the same). */
  minify?: boolean;
  /** wrangler.toml's `keep_names` (likewise). */
  keepNames?: boolean;
}

export function readWranglerSettings(root: string): WranglerSettings {
  const config = unstable_readConfig({ config: path.join(root, "wrangler.toml") });
  if (!config.compatibility_date) throw new Error("wrangler.toml has no compatibility_date");
  const vars: Record<string, string> = {};
  for (const [key, value] of Object.entries(config.vars ?? {})) {
    vars[key] = typeof value === "string" ? value : JSON.stringify(value);
  }
  const d1 = config.d1_databases.find((d: { binding: string }) => d.binding === "DB");
  return {
    compatibilityDate: config.compatibility_date,
    compatibilityFlags: config.compatibility_flags ?? [],
    vars,
    migrationsDir: path.resolve(root, d1?.migrations_dir ?? "migrations"),
    minify: config.minify ?? false,
    keepNames: config.keep_names ?? true,
  };
}

/**
 * The ceiling Worker's options for Miniflare (with a direct socket, a KV namespace of its own, a new
 * ES256 key and its one client), and what a client needs to call it, but its address.
 */
export async function ceilingWorker(
  bundle: Bundle,
  settings: Pick<WranglerSettings, "compatibilityDate" | "compatibilityFlags">,
): Promise<{ options: V4WorkerOptions; server: Omit<CeilingServer, "baseUrl">; publicKey: JWK }> {
  const client = { id: "ceiling-client", secret: randomToken(32) };
  const key = await generateSigningKey("ES256");
  const { d: _private, ...publicKey } = key;
  return {
    options: {
      name: CEILING_WORKER,
      modules: true,
      scriptPath: bundle.script,
      modulesRoot: bundle.dir,
      compatibilityDate: settings.compatibilityDate,
      compatibilityFlags: settings.compatibilityFlags,
      kvNamespaces: { KV: "bench-ceiling-kv" },
      bindings: {
        SIGNING_KEY: JSON.stringify(key),
        CLIENT_ID: client.id,
        CLIENT_SECRET_HASH: await hashSecret(client.secret),
        ISSUER: CEILING_ISSUER,
      },
      unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
    },
    server: { issuer: CEILING_ISSUER, clientId: client.id, clientSecret: client.secret, authorization: basic(client.id, client.secret) },
    publicKey,
  };
}

/** The ceiling Worker as served next to the product, with its one client. */
export interface CeilingServer {
  /** Its direct socket. */
  baseUrl: string;
  issuer: string;
  clientId: string;
  clientSecret: string;
  authorization: string;
}

export interface Server {
  mf: Miniflare;
  /** The product Worker's direct socket (past Miniflare's entry worker): what is measured. */
  baseUrl: string;
  /** Its twin with STORAGE_COUNT_HEADER on (same D1 and KV): where X-Storage-Ops is read. */
  probeUrl: string;
  /** The same Worker through Miniflare's entry worker (a proxy hop in front of it). */
  entryUrl: string;
  ctx: BenchContext;
  ceiling: CeilingServer | null;
  dispose(): Promise<void>;
}

/** Applies migrations/*.sql in order, the way `wrangler d1 migrations apply` splits them. */
async function applyMigrations(d1: D1Database, dir: string): Promise<number> {
  const files = (await readdir(dir)).filter((f) => f.endsWith(".sql")).sort();
  let count = 0;
  for (const file of files) {
    const sql = await readFile(path.join(dir, file), "utf8");
    const statements = sql
      .split("--> statement-breakpoint")
      .map((s) => s.trim())
      .filter(Boolean);
    for (const statement of statements) {
      try {
        await d1.prepare(statement).run();
      } catch (err) {
        throw new Error(`migration ${file} failed at:\n${statement}\n${String(err)}`);
      }
    }
    count++;
  }
  if (count === 0) throw new Error(`no migrations found in ${dir}`);
  return count;
}

export function basic(clientId: string, secret: string): string {
  const enc = (v: string) => encodeURIComponent(v).replace(/%20/g, "+");
  return `Basic ${Buffer.from(`${enc(clientId)}:${enc(secret)}`).toString("base64")}`;
}

/**
 * Serves the bundle with workerd through Miniflare's API (not `wrangler dev`, whose proxy Worker
 * caps throughput), with in-memory D1 and KV, the [vars] of wrangler.toml, fresh signing keys and
 * STORAGE_COUNT_HEADER off (a twin with it on answers the probes); applies the migrations and seeds a confidential client. The Worker gets
 * a direct socket of its own (`unsafeDirectSockets`), past Miniflare's entry worker. With
 * `ceiling`, that bundle runs as a second Worker in the same workerd, on a direct socket too.
 */
export async function startServer(
  bundle: Bundle,
  settings: WranglerSettings,
  extra: { inspectorPort?: number; ceiling?: Bundle } = {},
): Promise<Server> {
  const signingKeys = JSON.stringify(await generateSigningKeySet());
  const secretKey = randomToken(32);
  // The measured Worker runs as deployed (no storage counting); a twin with STORAGE_COUNT_HEADER on,
  // sharing its D1 and KV, answers the probes that read X-Storage-Ops.
  const productWorker = (countStorage: boolean): V4WorkerOptions => ({
    ...(countStorage ? { name: PROBE_WORKER } : {}),
    modules: true,
    scriptPath: bundle.script,
    modulesRoot: bundle.dir,
    compatibilityDate: settings.compatibilityDate,
    compatibilityFlags: settings.compatibilityFlags,
    d1Databases: ["DB"],
    kvNamespaces: ["KV"],
    bindings: {
      ...settings.vars,
      SIGNING_KEYS: signingKeys,
      SECRET_KEY: secretKey,
      STORAGE_COUNT_HEADER: String(countStorage),
      // One issuer and audience for both twins (each on its own port), so a token from one is
      // good at the other; the host check goes by host name, as Django's ALLOWED_HOSTS does.
      ISSUER: BENCH_ISSUER,
      ACCESS_TOKEN_AUDIENCE: new URL(BENCH_ISSUER).origin,
      ALLOWED_HOSTS: "127.0.0.1",
    },
    unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
  });
  const workers: V4WorkerOptions[] = [productWorker(false), productWorker(true)];
  const ceiling = extra.ceiling ? await ceilingWorker(extra.ceiling, settings) : null;
  if (ceiling) workers.push(ceiling.options);
  // Miniflare 5 takes `workers: [{ config }]`; convertV4MiniflareOptions accepts the classic
  // options (one Worker, or `workers: [...]`), unsafeDirectSockets included. No persistence option:
  // D1 and KV live in a temporary directory that dispose() removes, never in .wrangler/state.
  const options = convertV4MiniflareOptions({
    host: "127.0.0.1",
    port: 0,
    cf: false, // no attempt to download the Request.cf placeholder (there is no internet here)
    log: new Log(LogLevel.WARN),
    workers,
  });
  const mf = new Miniflare({ ...options, enableDevRegistry: false, inspectorPort: extra.inspectorPort });
  try {
    const entryUrl = (await mf.ready).origin;
    const baseUrl = (await mf.unsafeGetDirectURL()).origin;
    const probeUrl = (await mf.unsafeGetDirectURL(PROBE_WORKER)).origin;
    const d1 = (await mf.getD1Database("DB")) as unknown as D1Database;
    const kv = await mf.getKVNamespace("KV");
    await applyMigrations(d1, settings.migrationsDir);

    const db = openDatabase(d1);
    const { client, clientSecret } = await registerClient(db, {
      name: "Benchmark client",
      clientType: "confidential",
      grantTypes: ["client_credentials", "authorization_code", "refresh_token", "password"],
      redirectUris: [BENCH_REDIRECT_URI],
      scope: "read write",
    });
    const user = await registerUser(db, { username: "bench-user", password: BENCH_PASSWORD });
    if (!clientSecret) throw new Error("registerClient returned no secret for a confidential client");

    const ctx: BenchContext = {
      baseUrl,
      mf,
      db,
      d1,
      kv,
      client: { id: client.id, secret: clientSecret, authorization: basic(client.id, clientSecret), record: client },
      user: { id: user.id, username: user.username, password: BENCH_PASSWORD },
      signingKeys,
      secretKey,
      fetch: (p, init) => fetch(new URL(p, baseUrl), init),
    };
    const ceilingServer: CeilingServer | null = ceiling
      ? { ...ceiling.server, baseUrl: (await mf.unsafeGetDirectURL(CEILING_WORKER)).origin }
      : null;
    return { mf, baseUrl, probeUrl, entryUrl, ctx, ceiling: ceilingServer, dispose: () => mf.dispose() };
  } catch (err) {
    await mf.dispose().catch(() => {});
    throw err;
  }
}
