import { spawn } from "node:child_process";
import { readdir, readFile, rm, stat } from "node:fs/promises";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { convertV4MiniflareOptions, Log, LogLevel, Miniflare } from "miniflare";
import { unstable_readConfig } from "wrangler";
import { openDatabase } from "../../src/db/index";
import { registerClient, registerUser } from "../../src/db/registration";
import { randomToken } from "../../src/core/crypto";

export const BENCH_REDIRECT_URI = "https://bench.example/callback";
const BENCH_PASSWORD = "bench password 1";
import { generateSigningKeySet } from "../../src/tokens/generate-keys";
import type { BenchContext } from "./types";

export interface Bundle {
  dir: string;
  script: string;
  bytes: number;
  gzipBytes: number;
}

/** `wrangler deploy --dry-run --outdir DIR`: the same bundle that would be uploaded. */
export async function bundleWorker(root: string, outdir: string): Promise<Bundle> {
  await rm(outdir, { recursive: true, force: true });
  const wrangler = path.join(root, "node_modules", ".bin", "wrangler");
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn(wrangler, ["deploy", "--dry-run", "--outdir", outdir], {
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
  const script = path.join(outdir, "index.js");
  try {
    await stat(script);
  } catch {
    throw new Error(`wrangler did not write ${script}:\n${output}`);
  }
  const files = (await readdir(outdir)).filter((f) => !f.endsWith(".map") && !f.endsWith(".md"));
  let bytes = 0;
  let gzipBytes = 0;
  for (const file of files) {
    const content = await readFile(path.join(outdir, file));
    bytes += content.length;
    gzipBytes += gzipSync(content).length;
  }
  return { dir: outdir, script, bytes, gzipBytes };
}

export interface WranglerSettings {
  compatibilityDate: string;
  compatibilityFlags: string[];
  vars: Record<string, string>;
  migrationsDir: string;
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
  };
}

export interface Server {
  mf: Miniflare;
  baseUrl: string;
  ctx: BenchContext;
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

function basic(clientId: string, secret: string): string {
  const enc = (v: string) => encodeURIComponent(v).replace(/%20/g, "+");
  return `Basic ${Buffer.from(`${enc(clientId)}:${enc(secret)}`).toString("base64")}`;
}

/**
 * Serves the bundle with workerd through Miniflare's API (not `wrangler dev`, whose proxy Worker
 * caps throughput), with in-memory D1 and KV, the [vars] of wrangler.toml, fresh signing keys and
 * STORAGE_COUNT_HEADER on; applies the migrations and seeds a confidential client.
 */
export async function startServer(
  bundle: Bundle,
  settings: WranglerSettings,
  extra: { inspectorPort?: number } = {},
): Promise<Server> {
  const signingKeys = JSON.stringify(await generateSigningKeySet());
  const secretKey = randomToken(32);
  // Miniflare 5 takes `workers: [{ config }]`; convertV4MiniflareOptions accepts the classic
  // single-Worker options. No persistence option: D1 and KV live in a temporary directory that
  // dispose() removes, never in the repository's .wrangler/state.
  const options = convertV4MiniflareOptions({
    host: "127.0.0.1",
    port: 0,
    cf: false, // no attempt to download the Request.cf placeholder (there is no internet here)
    log: new Log(LogLevel.WARN),
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
      STORAGE_COUNT_HEADER: "true",
    },
  });
  const mf = new Miniflare({ ...options, enableDevRegistry: false, inspectorPort: extra.inspectorPort });
  try {
    const url = await mf.ready;
    const baseUrl = url.origin;
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
    return { mf, baseUrl, ctx, dispose: () => mf.dispose() };
  } catch (err) {
    await mf.dispose().catch(() => {});
    throw err;
  }
}
