/** Paths of the project and a way to run its own wrangler, shared by the Node scripts. */
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Unstable_Config } from "wrangler";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const CONFIG_PATH = join(ROOT, "wrangler.toml");
/** wrangler's own default for `--persist-to`. */
export const DEFAULT_STATE_DIR = join(ROOT, ".wrangler", "state");
/** The name of the D1 binding in wrangler.toml. */
export const DB_BINDING = "DB";

const require = createRequire(import.meta.url);
export const WRANGLER_BIN = join(dirname(require.resolve("wrangler/package.json")), "bin", "wrangler.js");

/** The environment for every wrangler run: no telemetry. */
export function wranglerEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, WRANGLER_SEND_METRICS: "false", ...extra };
}

export interface WranglerResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the project's wrangler (with this Node) from the project root and collects its output. */
export function runWrangler(args: string[], env: Record<string, string> = {}): Promise<WranglerResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [WRANGLER_BIN, ...args], {
      cwd: ROOT,
      env: wranglerEnv(env),
      stdio: ["ignore", "pipe", "pipe"],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
    child.on("error", reject);
    child.on("close", (code, signal) =>
      resolvePromise({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(stdout).toString("utf8"),
        stderr: Buffer.concat(stderr).toString("utf8"),
      }),
    );
  });
}

/** wrangler.toml as wrangler reads it (loaded on demand: wrangler's bundle is large). */
function wranglerConfig(): Unstable_Config {
  const { unstable_readConfig } = createRequire(import.meta.url)("wrangler") as typeof import("wrangler");
  return unstable_readConfig({ config: CONFIG_PATH }, { hideWarnings: true });
}

/** The `[vars]` of wrangler.toml, so the CLI uses the same settings as the Worker. */
export function wranglerVars(): Record<string, unknown> {
  return wranglerConfig().vars ?? {};
}

/** The `database_id` of wrangler.toml's D1 binding named DB, if it has one. */
export function d1DatabaseId(): string | undefined {
  return wranglerConfig().d1_databases.find((d) => d.binding === DB_BINDING)?.database_id;
}
