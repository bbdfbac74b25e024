/**
 * `npm run bench`: bundles the Worker as it would be deployed, serves it with workerd through
 * Miniflare's API (in-memory D1 and KV), and loads each scenario with autocannon. Prints requests/s,
 * latency, the ratio to a trivial route of the same Worker and the per-request storage round-trips
 * (X-Storage-Ops); writes the same as JSON. First it measures the Worker's startup time (startup.ts):
 * a new isolate evaluating the bundle and answering /healthz, against a one-line Worker.
 * A benchmark, not a test: nothing here asserts on timing.
 *
 *   npm run bench                         10 s per scenario, 16 connections
 *   npm run bench -- --smoke              1 s per scenario: checks that the benchmark works
 *   npm run bench -- --seconds 30 --connections 32 --only client_credentials --json out.json
 *   npm run bench -- --only client_credentials --profile dist/bench/profiles   (CPU profile of the Worker)
 *
 * Scenarios live in scenarios.ts next to this file. Exit status: 0 when every scenario ran without
 * errors or unexpected statuses, 1 otherwise, 2 on bad arguments, 3 when the watchdog fired.
 */
import path from "node:path";
import { parseArgs } from "node:util";
import { probe, runLoad, runPaired, ScenarioCheckError, stopRunning, type LoadSummary } from "./load";
import { freePort, WorkerProfiler } from "./profile";
import { formatHeader, formatResults, loadAverage, machineInfo, writeReport, type Report, type RunOptions } from "./report";
import { fixed, scenarios as allScenarios } from "./scenarios";
import { bundleWorker, readWranglerSettings, startServer, type Server } from "./server";
import { measureStartup, type StartupResult } from "./startup";
import { ROOT } from "../lib/project";
import type { LoadPlan, RequestSource, Scenario, ScenarioResult } from "./types";

const USAGE = `Usage: npm run bench -- [options]
  --seconds N       load duration per scenario (default 10, or BENCH_SECONDS)
  --connections N   concurrent connections (default 16, or BENCH_CONNECTIONS)
  --warmup N        warm-up seconds before each scenario (default 2; 0.5 with --smoke)
  --smoke           1 s per scenario: a quick check that the benchmark works
  --only a,b        run only these scenarios (baseline always runs)
  --startup-runs N  new isolates per Worker for the startup time (default 15; 3 with --smoke; 0 skips it)
  --json FILE       where to write the results (default dist/bench/results.json)
  --paired          measure each scenario in 1 s slices alternating with the baseline, and take the
                    ratio to those slices: steadier ratios on a busy machine (twice the time)
  --profile DIR     write a CPU profile of the Worker per scenario's load run (DIR/<name>.cpuprofile);
                    sampling slows the Worker, so use it to see what dominates, not for figures
  --help`;

const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);

function positive(name: string, raw: string | undefined, fallback: number, allowZero = false): number {
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new UsageError(`${name} must be a ${allowZero ? "non-negative" : "positive"} number, not "${raw}"`);
  }
  return value;
}

class UsageError extends Error {}

function parseOptions() {
  const { values } = parseArgs({
    options: {
      seconds: { type: "string" },
      connections: { type: "string" },
      warmup: { type: "string" },
      smoke: { type: "boolean", default: false },
      only: { type: "string" },
      json: { type: "string" },
      profile: { type: "string" },
      paired: { type: "boolean", default: false },
      "startup-runs": { type: "string" },
      help: { type: "boolean", default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const smoke = values.smoke ?? false;
  const seconds = positive("--seconds", values.seconds ?? process.env.BENCH_SECONDS, smoke ? 1 : 10);
  const connections = Math.round(positive("--connections", values.connections ?? process.env.BENCH_CONNECTIONS, 16));
  const warmupSeconds = positive("--warmup", values.warmup, smoke ? 0.5 : 2, true);
  const startupRuns = Math.round(positive("--startup-runs", values["startup-runs"], smoke ? 3 : 15, true));
  const run: RunOptions = { seconds, warmupSeconds, connections, smoke, paired: values.paired ?? false, startupRuns };

  let selected: Scenario[] = allScenarios;
  if (values.only) {
    const names = values.only.split(",").map((s) => s.trim()).filter(Boolean);
    const unknown = names.filter((n) => !allScenarios.some((s) => s.name === n));
    if (unknown.length) {
      throw new UsageError(`unknown scenario(s) ${unknown.join(", ")}; known: ${allScenarios.map((s) => s.name).join(", ")}`);
    }
    selected = allScenarios.filter((s) => s.name === "baseline" || names.includes(s.name));
  }
  if (selected[0]?.name !== "baseline") throw new UsageError("the first scenario must be baseline");
  const jsonFile = path.resolve(ROOT, values.json ?? "dist/bench/results.json");
  const profileDir = values.profile ? path.resolve(ROOT, values.profile) : undefined;
  return { run, scenarios: selected, jsonFile, profileDir };
}

function sourceFor(scenario: Scenario, server: Server, plan: LoadPlan): Promise<RequestSource> {
  if (scenario.prepare) return scenario.prepare(server.ctx, plan);
  if (scenario.request) return Promise.resolve(fixed(scenario.request));
  throw new ScenarioCheckError(`scenario "${scenario.name}" has neither request nor prepare()`);
}

interface Baseline {
  scenario: Scenario;
  source: RequestSource;
  requestsPerSecond: number;
}

async function runScenario(
  scenario: Scenario,
  server: Server,
  run: RunOptions,
  baseline: Baseline | null,
  profiler: { profiler: WorkerProfiler; dir: string } | undefined,
): Promise<{ result: ScenarioResult; source: RequestSource }> {
  // Upper bound on the requests the source must give: a scenario is not faster than the baseline,
  // with a margin (and a floor) because the baseline's figure is noisy on a busy machine.
  const rate = baseline ? Math.max(baseline.requestsPerSecond * 1.5, 3_000) : 20_000;
  const plan: LoadPlan = {
    seconds: run.seconds,
    warmupSeconds: run.warmupSeconds,
    connections: run.connections,
    maxRequests: Math.ceil(rate * (run.seconds + run.warmupSeconds)) + 4 * run.connections + 10,
  };
  const started = Date.now();
  const source = await sourceFor(scenario, server, plan);
  if (scenario.prepare) log(`${scenario.name}: prepared in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const load = { baseUrl: server.baseUrl, connections: run.connections };

  // 1. One request, before anything else: a broken scenario fails here, with its response.
  const first = await probe(server.ctx, scenario, source.next(), "first request");
  // 2. Warm-up (isolate caches: client records, imported keys, JIT).
  if (run.warmupSeconds > 0) {
    log(`${scenario.name}: warm-up ${run.warmupSeconds} s`);
    // A pool of single-use inputs is shared in proportion to the durations.
    const poolShare = run.warmupSeconds / (run.warmupSeconds + run.seconds);
    await runLoad(scenario, source, { ...load, seconds: run.warmupSeconds, poolShare });
  }
  // 3. The per-request storage figure, from a warm request.
  const warm = await probe(server.ctx, scenario, source.next(), "probe after warm-up");
  // 4. The measured run (with --paired, in slices alternating with the baseline's).
  const paired = run.paired && baseline !== null;
  log(
    `${scenario.name}: load ${run.seconds} s, ${run.connections} connections` +
      (paired ? ", paired with the baseline" : "") +
      (profiler ? " (profiling)" : ""),
  );
  await profiler?.profiler.start();
  let summary: LoadSummary;
  let baselineRps = baseline?.requestsPerSecond ?? null;
  if (paired) {
    const both = await runPaired(scenario, source, baseline, { ...load, seconds: run.seconds });
    summary = both.scenario;
    baselineRps = both.baseline.requestsPerSecond;
  } else {
    summary = await runLoad(scenario, source, { ...load, seconds: run.seconds });
  }
  if (profiler) {
    const file = path.join(profiler.dir, `${scenario.name}.cpuprofile`);
    await profiler.profiler.stop(file);
    log(`${scenario.name}: CPU profile written to ${path.relative(process.cwd(), file)}`);
  }

  const expected = String(scenario.expectStatus ?? 200);
  const unexpectedStatus = Object.entries(summary.statusCodes)
    .filter(([code]) => code !== expected)
    .reduce((n, [, count]) => n + count, 0);
  if (summary.exhausted) log(`${scenario.name}: WARNING the request pool ran out before the end of the run`);
  if (summary.errors || unexpectedStatus) {
    log(`${scenario.name}: ${summary.errors} errors (${summary.timeouts} timeouts), status codes ${JSON.stringify(summary.statusCodes)}`);
  }
  const result: ScenarioResult = {
    name: scenario.name,
    description: scenario.description,
    requestsPerSecond: summary.requestsPerSecond,
    ratio: baselineRps ? summary.requestsPerSecond / baselineRps : baseline === null ? 1 : null,
    pairedBaselineRequestsPerSecond: paired ? baselineRps : null,
    latencyMs: summary.latencyMs,
    requests: summary.requests,
    durationSeconds: summary.durationSeconds,
    errors: summary.errors,
    timeouts: summary.timeouts,
    unexpectedStatus,
    statusCodes: summary.statusCodes,
    storage: warm.storage,
    storageFirstRequest: first.storage,
    exhausted: summary.exhausted,
  };
  return { result, source };
}

async function main(): Promise<number> {
  let options: ReturnType<typeof parseOptions>;
  try {
    options = parseOptions();
  } catch (err) {
    console.error(`${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
    return 2;
  }
  const { run, scenarios, jsonFile, profileDir } = options;

  // Bounded time whatever happens: setup, per-scenario prepare allowance, the runs themselves.
  const budgetSeconds = 180 + scenarios.length * ((run.paired ? 2 : 1) * run.seconds + run.warmupSeconds + 90);
  let server: Server | undefined;
  const abort = (reason: string, code: number) => {
    log(reason);
    stopRunning();
    const done = () => process.exit(code);
    setTimeout(done, 10_000).unref();
    (server ? server.dispose() : Promise.resolve()).then(done, done);
  };
  const watchdog = setTimeout(() => abort(`watchdog: still running after ${budgetSeconds} s, giving up`, 3), budgetSeconds * 1000);
  watchdog.unref();
  process.once("SIGINT", () => abort("interrupted", 130));
  process.once("SIGTERM", () => abort("terminated", 143));

  const machine = await machineInfo(ROOT);
  log("bundling with wrangler deploy --dry-run");
  const bundle = await bundleWorker(ROOT, path.join(ROOT, "dist", "bench", "worker"));
  const results: ScenarioResult[] = [];
  let startup: StartupResult | null = null;
  let profiler: { profiler: WorkerProfiler; dir: string } | undefined;
  try {
    const settings = readWranglerSettings(ROOT);
    if (run.startupRuns > 0) {
      log(`startup time: ${run.startupRuns} new isolates of the bundle and of a one-line Worker`);
      startup = await measureStartup(bundle, settings, run.startupRuns, log);
    }
    log(`starting workerd through Miniflare (compatibility date ${settings.compatibilityDate})`);
    const inspectorPort = profileDir ? await freePort() : undefined;
    server = await startServer(bundle, settings, { inspectorPort });
    log(`serving at ${server.baseUrl}; seeded client ${server.ctx.client.id}`);
    if (inspectorPort && profileDir) {
      profiler = { profiler: await WorkerProfiler.connect(inspectorPort), dir: profileDir };
    }
    console.log(formatHeader(machine, bundle, run, startup));
    if (profiler) console.log("Profiling: the Worker runs slower than usual, do not compare these figures");

    let baseline: Baseline | null = null;
    for (const scenario of scenarios) {
      const { result, source } = await runScenario(scenario, server, run, baseline, profiler);
      if (baseline === null) baseline = { scenario, source, requestsPerSecond: result.requestsPerSecond };
      results.push(result);
    }
  } catch (err) {
    if (err instanceof ScenarioCheckError) {
      console.error(`\nbench: aborted: ${err.message}`);
      return 1;
    }
    throw err;
  } finally {
    clearTimeout(watchdog);
    profiler?.profiler.close();
    await server?.dispose();
    server = undefined;
  }

  const ok = results.every((r) => r.errors === 0 && r.unexpectedStatus === 0);
  console.log(`\n${formatResults(results)}`);
  const report: Report = {
    date: new Date().toISOString(),
    ok,
    loadAverageAtEnd: loadAverage(),
    machine,
    bundle: { path: path.relative(ROOT, bundle.script), bytes: bundle.bytes, gzipBytes: bundle.gzipBytes },
    startup,
    options: { ...run, profiled: Boolean(profileDir) },
    scenarios: results,
  };
  await writeReport(jsonFile, report);
  console.log(`\nResults written to ${path.relative(process.cwd(), jsonFile) || jsonFile}`);
  if (!ok) console.error("bench: some scenarios had errors or unexpected statuses (see above)");
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error("bench: failed:", err);
    process.exit(1);
  },
);
