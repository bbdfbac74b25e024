/**
 * examples/mcp-server served for a test, fast: its source bundled by wrangler with
 * `edge-oauth-toolkit` resolved to this repository's src/lib.ts (a generated wrangler config with
 * an `alias`; examples.test.ts covers the packed package), run in workerd through Miniflare's API
 * on a loopback port, with in-memory D1 and KV, the [vars] of the example's wrangler.toml, fresh
 * secrets, the repository's migrations and one user.
 *
 * The Worker's own outbound requests (a client ID metadata document the provider fetches) go to
 * the test's `outbound` handler instead of the network.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { convertV4MiniflareOptions, Log, LogLevel, Miniflare } from "miniflare";
import { unstable_readConfig } from "wrangler";
import { randomToken } from "../../../src/core/crypto";
import { openDatabase, type Database } from "../../../src/db/index";
import { registerUser } from "../../../src/db/registration";
import { generateSigningKeySet } from "../../../src/tokens/generate-keys";
import { ROOT, runWrangler } from "../../../scripts/lib/project";

export const EXAMPLE_DIR = join(ROOT, "examples", "mcp-server");
export const USER_PASSWORD = "correct horse battery";

export interface McpExample {
  /** `http://127.0.0.1:PORT` */
  origin: string;
  /** The MCP endpoint: `${origin}/mcp`, also the resource its tokens are for. */
  mcpUrl: string;
  /** The provider's issuer: `${origin}/o`. */
  issuer: string;
  db: Database;
  d1: D1Database;
  user: { id: string; username: string; password: string };
  /** The Worker's log lines (console and structured logs). */
  logs: string[];
  dispose(): Promise<void>;
}

export interface McpExampleOptions {
  /** Settings over the example's [vars]. */
  vars?: Record<string, string>;
  /** Answers the Worker's outbound fetches (the default refuses them: the test has no network). */
  outbound?: (request: Request) => Response | Promise<Response>;
}

function exampleConfig() {
  return unstable_readConfig({ config: join(EXAMPLE_DIR, "wrangler.toml") }, { hideWarnings: true });
}

/** `wrangler deploy --dry-run` of the example with edge-oauth-toolkit aliased to src/lib.ts; the bundle's directory. */
async function bundleExample(work: string): Promise<string> {
  const config = exampleConfig();
  const configPath = join(work, "wrangler.json");
  await writeFile(
    configPath,
    JSON.stringify({
      name: config.name,
      main: join(EXAMPLE_DIR, "src", "index.ts"),
      compatibility_date: config.compatibility_date,
      compatibility_flags: config.compatibility_flags,
      alias: { "edge-oauth-toolkit": join(ROOT, "src", "lib.ts") },
    }),
  );
  const outdir = join(work, "bundle");
  const result = await runWrangler(["deploy", "--dry-run", "--outdir", outdir, "--config", configPath]);
  if (result.code !== 0) throw new Error(`wrangler deploy --dry-run of the MCP example failed:\n${result.stdout}\n${result.stderr}`);
  return outdir;
}

/** The migrations in order, split the way `wrangler d1 migrations apply` splits them. */
async function applyMigrations(d1: D1Database): Promise<void> {
  const dir = join(ROOT, "migrations");
  for (const file of (await readdir(dir)).filter((f) => f.endsWith(".sql")).sort()) {
    const statements = (await readFile(join(dir, file), "utf8")).split("--> statement-breakpoint").map((s) => s.trim()).filter(Boolean);
    for (const statement of statements) await d1.prepare(statement).run();
  }
}

const refuseOutbound = (request: Request) => new Response(`no network in this test: ${request.url}`, { status: 502 });

export async function startMcpExample(options: McpExampleOptions = {}): Promise<McpExample> {
  const work = await mkdtemp(join(tmpdir(), "eot-mcp-"));
  let mf: Miniflare | undefined;
  try {
    const bundle = await bundleExample(work);
    const config = exampleConfig();
    const vars: Record<string, string> = {};
    for (const [name, value] of Object.entries(config.vars ?? {})) vars[name] = typeof value === "string" ? value : JSON.stringify(value);
    const logs: string[] = [];
    const outbound = options.outbound ?? refuseOutbound;
    mf = new Miniflare({
      ...convertV4MiniflareOptions({
        host: "127.0.0.1",
        port: 0,
        cf: false,
        log: new Log(LogLevel.WARN),
        handleStructuredLogs: (log) => logs.push(log.message),
        workers: [
          {
            name: config.name!,
            modules: true,
            scriptPath: join(bundle, "index.js"),
            modulesRoot: bundle,
            compatibilityDate: config.compatibility_date!,
            compatibilityFlags: config.compatibility_flags ?? [],
            d1Databases: ["DB"],
            kvNamespaces: ["KV"],
            bindings: {
              ...vars,
              SIGNING_KEYS: JSON.stringify(await generateSigningKeySet()),
              SECRET_KEY: randomToken(32),
              ...options.vars,
            },
            outboundService: (request: Request) => outbound(request),
          },
        ],
      }),
      enableDevRegistry: false,
    });
    const { origin } = await mf.ready;
    const d1 = (await mf.getD1Database("DB")) as unknown as D1Database;
    await applyMigrations(d1);
    const db = openDatabase(d1);
    const user = await registerUser(db, { username: "ada", password: USER_PASSWORD });
    const running = mf;
    return {
      origin,
      mcpUrl: `${origin}/mcp`,
      issuer: `${origin}/o`,
      db,
      d1,
      user: { id: user.id, username: user.username, password: USER_PASSWORD },
      logs,
      dispose: async () => {
        await running.dispose();
        await rm(work, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await mf?.dispose().catch(() => {});
    await rm(work, { recursive: true, force: true });
    throw err;
  }
}
