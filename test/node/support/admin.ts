import { spawn } from "node:child_process";
import { join } from "node:path";
import { main } from "../../../scripts/admin";
import type { LocalDatabase } from "../../../scripts/lib/local-db";
import { ROOT } from "../../../scripts/lib/project";
import type { BatchResult } from "./admin-batch";

/** How the node tests run the admin CLI: as a real process, or through the same `main()` in this one. */

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export const cliEnv = {
  ...process.env,
  PATH: `${join(ROOT, "node_modules", ".bin")}:${process.env.PATH ?? ""}`,
  WRANGLER_SEND_METRICS: "false",
};

/**
 * `tsx scripts/admin.ts ARGS` as a subprocess (as `node --import tsx`, which is what the tsx
 * binary runs, minus its extra relay process). Each one starts wrangler's local runtime.
 */
export function adminProcess(args: string[], env: NodeJS.ProcessEnv = cliEnv): Promise<Run> {
  return tsxProcess(join(ROOT, "scripts", "admin.ts"), args, env);
}

function tsxProcess(script: string, args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", script, ...args], { cwd: ROOT, env });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** The same CLI in this process, on an already open local database (no process start per case). */
export async function adminInProcess(args: string[], openLocal: (stateDir: string) => Promise<LocalDatabase>): Promise<Run> {
  let stdout = "";
  let stderr = "";
  const io = { out: (t: string) => (stdout += `${t}\n`), err: (t: string) => (stderr += `${t}\n`) };
  const code = await main(args, io, { openLocal });
  return { code, stdout, stderr };
}

/**
 * Several command lines in one process (support/admin-batch.ts), one after another, each through
 * `main` with the process's real stdout and stderr captured per command line.
 */
export async function adminBatch(lines: string[][], env: NodeJS.ProcessEnv = cliEnv): Promise<BatchResult[]> {
  const run = await tsxProcess(join(ROOT, "test", "node", "support", "admin-batch.ts"), [JSON.stringify(lines)], env);
  if (run.code !== 0) throw new Error(`admin-batch exited ${run.code}:\n${run.stderr}${run.stdout}`);
  return JSON.parse(run.stdout) as BatchResult[];
}
