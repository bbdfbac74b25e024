import { mkdir, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Bundle } from "./server";
import { ratio, type LoadGenerator } from "./load";
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
  for (const name of ["miniflare", "workerd", "wrangler", "autocannon", "oidc-provider", "hono", "drizzle-orm", "jose", "zod"]) {
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
  /** Ratios against baseline slices interleaved with the scenario's (always, unless profiling). */
  paired: boolean;
  /** New isolates per Worker for the startup time (0: not measured). */
  startupRuns: number;
  /** What the scenarios are measured against besides the trivial route (`--compare`). */
  compare: ("ceiling" | "oidc-provider" | "entry-worker")[];
  generator: LoadGenerator;
  /** wrk's version, when it generated the load. */
  generatorVersion: string | null;
}

/** The trivial route through Miniflare's entry worker, interleaved with the same on the direct socket. */
export interface EntryWorkerResult {
  route: string;
  requestsPerSecond: number;
  directRequestsPerSecond: number;
  latencyMs: { average: number; p50: number; p90: number; p99: number; max: number };
  errors: number;
  unexpectedStatus: number;
}

export interface Report {
  date: string;
  ok: boolean;
  /** 1-minute load average when the run ended (it includes the benchmark's own load). */
  loadAverageAtEnd: number;
  machine: MachineInfo;
  /** How the figures were measured, in words. */
  method: string;
  bundle: { path: string; bytes: number; gzipBytes: number };
  /** The ceiling Worker's bundle; null when it did not run. */
  ceilingBundle: { path: string; bytes: number; gzipBytes: number } | null;
  /** The Worker's cold start (startup.ts); null with --startup-runs 0. */
  startup: StartupResult | null;
  /** What Miniflare's entry worker costs the trivial route; null when not measured. */
  entryWorker: EntryWorkerResult | null;
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

export function formatHeader(
  machine: MachineInfo,
  bundle: Bundle,
  options: RunOptions,
  startup: StartupResult | null,
  peers: { ceiling: Bundle | null; oidcProviderVersion: string | null } = { ceiling: null, oidcProviderVersion: null },
): string {
  const v = machine.versions;
  const generator = options.generator === "wrk" ? `wrk ${options.generatorVersion ?? "?"} (1 thread)` : `autocannon ${v.autocannon}`;
  return [
    `Machine: ${machine.cores} cores (${machine.cpuModel}), ${machine.memoryGiB} GiB, ${machine.platform}`,
    `Load average (1 min) before the run: ${machine.loadAverageAtStart}` +
      (machine.loadAverageAtStart > 0.5 ? " (other processes are busy: expect noisy figures)" : ""),
    `Node ${machine.node}; miniflare ${v.miniflare}, workerd ${v.workerd}, wrangler ${v.wrangler}; load from ${generator}`,
    `Bundle: ${kib(bundle.bytes)} (gzip ${kib(bundle.gzipBytes)}) at ${bundle.script}`,
    ...formatStartup(startup),
    `Served on the Worker's own socket (unsafeDirectSockets), past Miniflare's entry worker.`,
    peers.ceiling ? `Ceiling Worker (Hono + jose, same workerd): ${kib(peers.ceiling.bytes)} (gzip ${kib(peers.ceiling.gzipBytes)})` : "Ceiling Worker: not run",
    peers.oidcProviderVersion ? `node-oidc-provider ${peers.oidcProviderVersion}: in memory, child Node ${machine.node} process` : "node-oidc-provider: not run",
    `Load: ${options.seconds} s per scenario after a ${options.warmupSeconds} s warm-up, ${options.connections} connections` +
      (options.paired ? "; in ~1 s slices taken in turn with the trivial route and the references" : "") +
      (options.smoke ? " (smoke run: figures are not meaningful)" : ""),
  ].join("\n");
}

const ratioCell = (r: number | null) => (r === null ? "-" : r.toFixed(2));

export function formatResults(results: ScenarioResult[], entryWorker: EntryWorkerResult | null = null): string {
  const rows = [["scenario", "req/s", "p50 ms", "p99 ms", "errors", "non-2xx", "×trivial", "×ceiling", "×oidc-provider", "D1 rt", "primary/replica", "D1 stmts", "KV ops"]];
  for (const r of results) {
    rows.push([
      r.name + (r.exhausted ? " (pool ran out)" : ""),
      fmt(r.requestsPerSecond),
      fmt(r.latencyMs.p50, 1),
      fmt(r.latencyMs.p99, 1),
      fmt(r.errors),
      fmt(r.unexpectedStatus),
      ratioCell(r.ratio),
      ratioCell(r.ceilingRatio),
      ratioCell(r.oidcProviderRatio),
      r.storage ? String(r.storage.d1) : "-",
      r.storage?.d1Primary !== undefined ? `${r.storage.d1Primary}/${r.storage.d1Replica}` : "-",
      r.storage ? String(r.storage.d1Statements) : "-",
      r.storage ? String(r.storage.kv) : "-",
    ]);
  }
  const refRows = [["interleaved with", "reference", "req/s", "p50 ms", "p99 ms", "errors", "non-2xx"]];
  for (const r of results) {
    for (const ref of r.references) {
      refRows.push([
        r.name,
        ref.name,
        fmt(ref.requestsPerSecond),
        fmt(ref.latencyMs.p50, 1),
        fmt(ref.latencyMs.p99, 1),
        fmt(ref.errors),
        fmt(ref.unexpectedStatus),
      ]);
    }
  }
  const legend = [
    "req/s, latency: on the Worker's own socket. ×trivial: req/s over the trivial route's (GET /healthz of the",
    "same Worker); ×ceiling: over the ceiling Worker's matching route (client_credentials: its token route;",
    "introspection and protected_route: its introspection route, JWT verify + one KV get); ×oidc-provider: over",
    "node-oidc-provider's (client_credentials: ES256 JWT; introspection: an opaque token). Each ratio is of",
    "slices taken in turn in the same run. errors: socket errors and timeouts. non-2xx: responses without the",
    "expected status. D1 rt / D1 stmts / KV ops: per request, from X-Storage-Ops of one request sent after the",
    "warm-up (D1 round-trips, statements incl. batched, KV calls); primary/replica: of the D1 round-trips, those at",
    "the primary and those a nearby replica may answer (D1 sessions; locally one database answers both).",
  ];
  const parts = [`${table(rows, [false, ...Array<boolean>(12).fill(true)])}\n\n${legend.join("\n")}`];
  const bearer = results.find((r) => r.name === "protected_route");
  const dpop = results.find((r) => r.name === "protected_route_dpop");
  if (bearer?.ratio && dpop?.ratio) {
    parts.push(
      `DPoP-protected API call ÷ Bearer-protected call: ${ratioCell(dpop.ratio / bearer.ratio)} (their ×trivial ratios; ` +
        "the DPoP call also verifies a proof per request, ES256, and checks its jti against the isolate's recent ones).",
    );
  }
  if (refRows.length > 1) {
    parts.push(`References, in the slices interleaved with each scenario:\n${table(refRows, [false, false, true, true, true, true, true])}`);
  }
  if (entryWorker) {
    parts.push(
      `Through Miniflare's entry worker, ${entryWorker.route} served ${fmt(entryWorker.requestsPerSecond)} req/s, against ` +
        `${fmt(entryWorker.directRequestsPerSecond)} on the direct socket\n(interleaved): ` +
        `${ratioCell(ratio(entryWorker.requestsPerSecond, entryWorker.directRequestsPerSecond))}×. That proxy hop is Miniflare's, ` +
        "not the Worker's, and would sit on both sides of every\nratio, pulling it toward 1: so the scenarios are " +
        "measured on the direct socket only (earlier runs of this bench went\nthrough the entry worker).",
    );
  }
  return parts.join("\n\n");
}

export function loadAverage(): number {
  return Math.round(os.loadavg()[0]! * 100) / 100;
}

export async function writeReport(file: string, report: Report): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
}
