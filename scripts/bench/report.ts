import { mkdir, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Bundle } from "./server";
import type { StartupResult } from "./startup";
import type { ScenarioResult } from "./types";

export interface MachineInfo {
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  platform: string;
  node: string;
  /** 1-minute load average when the run started: other processes on the machine skew the figures. */
  loadAverageAtStart: number;
  versions: Record<string, string>;
}

async function packageVersion(root: string, name: string): Promise<string> {
  try {
    const json = JSON.parse(await readFile(path.join(root, "node_modules", name, "package.json"), "utf8")) as { version?: string };
    return json.version ?? "?";
  } catch {
    return "?";
  }
}

export async function machineInfo(root: string): Promise<MachineInfo> {
  const versions: Record<string, string> = {};
  for (const name of ["miniflare", "workerd", "wrangler", "autocannon", "hono", "drizzle-orm", "jose", "zod"]) {
    versions[name] = await packageVersion(root, name);
  }
  return {
    cores: os.availableParallelism?.() ?? os.cpus().length,
    cpuModel: os.cpus()[0]?.model.trim() ?? "unknown",
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
    loadAverageAtStart: loadAverage(),
    versions,
  };
}

export interface RunOptions {
  seconds: number;
  warmupSeconds: number;
  connections: number;
  smoke: boolean;
  /** Ratios against baseline slices interleaved with the scenario's (`--paired`). */
  paired: boolean;
  /** New isolates per Worker for the startup time (0: not measured). */
  startupRuns: number;
}

export interface Report {
  date: string;
  ok: boolean;
  /** 1-minute load average when the run ended (it includes the benchmark's own load). */
  loadAverageAtEnd: number;
  machine: MachineInfo;
  bundle: { path: string; bytes: number; gzipBytes: number };
  /** The Worker's cold start (startup.ts); null with --startup-runs 0. */
  startup: StartupResult | null;
  options: RunOptions & { profiled: boolean };
  scenarios: ScenarioResult[];
}

const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
const fmt = (n: number, digits = 0) =>
  n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

function table(rows: string[][], rightAligned: boolean[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r.map((cell, i) => (rightAligned[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join("  ");
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  return [line(rows[0]!), rule, ...rows.slice(1).map(line)].join("\n");
}

function formatStartup(startup: StartupResult | null): string[] {
  if (!startup) return ["Startup: not measured (--startup-runs 0)"];
  return [
    `Startup: ${fmt(startup.startupMs, 1)} ms: a new isolate evaluating the bundle and answering GET /healthz took ` +
      `${fmt(startup.bundleMedianMs, 1)} ms, a one-line Worker ${fmt(startup.trivialMedianMs, 1)} ms`,
    `  (medians of ${startup.runs} new isolates each, loaded alternately by workerd's Worker Loader in one process)`,
  ];
}

export function formatHeader(machine: MachineInfo, bundle: Bundle, options: RunOptions, startup: StartupResult | null): string {
  const v = machine.versions;
  return [
    `Machine: ${machine.cores} cores (${machine.cpuModel}), ${machine.memoryGiB} GiB, ${machine.platform}`,
    `Load average (1 min) before the run: ${machine.loadAverageAtStart}` +
      (machine.loadAverageAtStart > 0.5 ? " (other processes are busy: expect noisy figures)" : ""),
    `Node ${machine.node}; miniflare ${v.miniflare}, workerd ${v.workerd}, wrangler ${v.wrangler}, autocannon ${v.autocannon}`,
    `Bundle: ${kib(bundle.bytes)} (gzip ${kib(bundle.gzipBytes)}) at ${bundle.script}`,
    ...formatStartup(startup),
    `Load: ${options.seconds} s per scenario after a ${options.warmupSeconds} s warm-up, ${options.connections} connections` +
      (options.paired ? "; each scenario paired with baseline slices (ratio against those)" : "") +
      (options.smoke ? " (smoke run: figures are not meaningful)" : ""),
  ].join("\n");
}

export function formatResults(results: ScenarioResult[]): string {
  const rows = [["scenario", "req/s", "p50 ms", "p99 ms", "errors", "non-2xx", "ratio", "D1 rt", "D1 stmts", "KV ops"]];
  for (const r of results) {
    rows.push([
      r.name + (r.exhausted ? " (pool ran out)" : ""),
      fmt(r.requestsPerSecond),
      fmt(r.latencyMs.p50),
      fmt(r.latencyMs.p99),
      fmt(r.errors),
      fmt(r.unexpectedStatus),
      r.ratio === null ? "-" : r.ratio.toFixed(2),
      r.storage ? String(r.storage.d1) : "-",
      r.storage ? String(r.storage.d1Statements) : "-",
      r.storage ? String(r.storage.kv) : "-",
    ]);
  }
  const legend = [
    "ratio: req/s over the baseline's (same Worker, same run; with --paired, over baseline slices interleaved",
    "with the scenario's). errors: socket errors and timeouts.",
    "non-2xx: responses without the expected status. D1 rt / D1 stmts / KV ops: per request, from",
    "X-Storage-Ops of one request sent after the warm-up (D1 round-trips, statements incl. batched, KV calls).",
  ];
  return `${table(rows, [false, true, true, true, true, true, true, true, true, true])}\n\n${legend.join("\n")}`;
}

export function loadAverage(): number {
  return Math.round(os.loadavg()[0]! * 100) / 100;
}

export async function writeReport(file: string, report: Report): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
}
