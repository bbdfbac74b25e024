/**
 * `npm run bench`: what users will get from the Worker, and how far that is from what the runtime
 * allows. A benchmark, not a test: nothing here asserts on timing.
 *
 * Method. The Worker is bundled as it would be deployed (`wrangler deploy --dry-run`) and served by
 * workerd through Miniflare's API (in-memory D1 and KV), on a direct socket of its own
 * (`unsafeDirectSockets`): past Miniflare's entry worker, whose proxy hop would otherwise be part of
 * every figure. Next to it, in the same workerd, runs the ceiling Worker (ceiling/worker.ts: Hono +
 * jose, one client in memory, a client_credentials token endpoint and an introspection route that
 * verifies a JWT and does one KV get: the product's minimum), bundled the same way; and in a child
 * Node process, node-oidc-provider (oidc-peer/), in memory, with client_credentials and introspection.
 *
 * Each scenario (scenarios.ts) is first checked with one request, warmed up, probed for its storage
 * round-trips (X-Storage-Ops), then loaded in slices of about a second taken in turn with the trivial
 * route of the same Worker (GET /healthz, "baseline"), with the ceiling Worker's matching route and
 * with node-oidc-provider's (references.ts), so that all of them see the same background load; each
 * ratio is the scenario's requests/s over the other's, in those slices. The load comes from wrk when
 * it is installed (C, one thread: it leaves the server a core of the two), otherwise from
 * autocannon in this Node process. The baseline is also measured once through Miniflare's entry
 * worker, to show what that hop costs; scenarios are not (the hop's cost would sit on both sides of
 * every ratio and pull it toward 1). Before the load, it measures the startup time (startup.ts): a
 * new isolate evaluating the bundle and answering /healthz, against a one-line Worker.
 *
 *   npm run bench                         10 s per scenario, 16 connections
 *   npm run bench -- --smoke              1 s per scenario: checks that the benchmark works
 *   npm run bench -- --seconds 30 --connections 32 --only client_credentials --json out.json
 *   npm run bench -- --only client_credentials --profile dist/bench/profiles   (CPU profile of the Worker)
 *
 * Exit status: 0 when every scenario and reference ran without errors or unexpected statuses, 1
 * otherwise, 2 on bad arguments, 3 when the watchdog fired.
 */
import path from "node:path";
import { parseArgs } from "node:util";
import { probe, ratio, runInterleaved, runLoad, ScenarioCheckError, stopRunning, type LoadGenerator, type LoadPart, type LoadSummary } from "./load";
import { startOidcPeer, type OidcPeer } from "./oidc-peer/peer";
import { freePort, WorkerProfiler } from "./profile";
import { referenceScenario, references, type Reference, type ReferenceName, type ReferenceTargets } from "./references";
import {
  formatHeader,
  formatResults,
  loadAverage,
  machineInfo,
  writeReport,
  type EntryWorkerResult,
  type Report,
  type RunOptions,
} from "./report";
import { fixed, scenarios as allScenarios } from "./scenarios";
import { bundleCeilingWorker, bundleWorker, readWranglerSettings, startServer, type Bundle, type Server } from "./server";
import { measureStartup, type StartupResult } from "./startup";
import { wrkVersion } from "./wrk";
import { ROOT } from "../lib/project";
import type { LoadPlan, ReferenceResult, RequestSource, Scenario, ScenarioResult } from "./types";

const COMPARISONS = ["ceiling", "oidc-provider", "entry-worker"] as const;
type Comparison = (typeof COMPARISONS)[number];

const USAGE = `Usage: npm run bench -- [options]
  --seconds N       load duration per scenario (default 10, or BENCH_SECONDS)
  --connections N   concurrent connections (default 16, or BENCH_CONNECTIONS)
  --warmup N        warm-up seconds before each scenario and reference (default 2; 0.5 with --smoke)
  --smoke           1 s per scenario: a quick check that the benchmark works
  --only a,b        run only these scenarios (baseline always runs)
  --compare LIST    what to measure the scenarios against, interleaved with them (default all:
                    ceiling,oidc-provider,entry-worker; "none" for none). The trivial route always is.
                      ceiling        the ceiling Worker (scripts/bench/ceiling/) in the same workerd
                      oidc-provider  node-oidc-provider in memory in a child Node process
                      entry-worker   the trivial route once more, through Miniflare's entry worker
  --generator NAME  wrk or autocannon (default wrk when installed: apt-get install -y wrk)
  --startup-runs N  new isolates per Worker for the startup time (default 15; 3 with --smoke; 0 skips it)
  --json FILE       where to write the results (default dist/bench/results.json)
  --paired          accepted for old command lines: every run is interleaved now
  --profile DIR     write a CPU profile of the Worker per scenario's load run (DIR/<name>.cpuprofile);
                    sampling slows the Worker, so use it to see what dominates, not for figures. The
                    scenario then runs alone: no interleaving, no comparisons
  --help

Every figure is measured on the Worker's own socket (unsafeDirectSockets), past Miniflare's entry
worker. Each scenario runs in ~1 s slices taken in turn with the trivial route of the same Worker
and with its counterparts on the ceiling Worker and node-oidc-provider; the ratios are of
requests/s in those slices, so background load on the machine touches both sides alike.`;
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
      compare: { type: "string" },
      generator: { type: "string" },
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
  const profileDir = values.profile ? path.resolve(ROOT, values.profile) : undefined;

  let compare: Comparison[] = [...COMPARISONS];
  if (values.compare !== undefined) {
    const names = values.compare.split(",").map((s) => s.trim()).filter(Boolean);
    const unknown = names.filter((n) => n !== "none" && !(COMPARISONS as readonly string[]).includes(n));
    if (unknown.length) throw new UsageError(`--compare: unknown ${unknown.join(", ")}; known: ${COMPARISONS.join(", ")}, none`);
    compare = names.filter((n): n is Comparison => n !== "none");
  }
  if (profileDir) compare = [];

  const wrk = wrkVersion();
  let generator: LoadGenerator;
  if (values.generator === undefined) generator = wrk ? "wrk" : "autocannon";
  else if (values.generator === "wrk" || values.generator === "autocannon") generator = values.generator;
  else throw new UsageError(`--generator must be wrk or autocannon, not "${values.generator}"`);
  if (generator === "wrk" && !wrk) throw new UsageError("--generator wrk: wrk is not on PATH (apt-get install -y wrk)");

  const run: RunOptions = {
    seconds,
    warmupSeconds,
    connections,
    smoke,
    paired: !profileDir,
    startupRuns,
    compare,
    generator,
    generatorVersion: generator === "wrk" ? wrk! : null,
  };

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

/** A reference ready to load: checked with one request and warmed up. */
interface ReadyReference {
  reference: Reference;
  part: LoadPart;
}

/** Prepares, checks and warms up each reference once, on first use. */
class ReferencePool {
  private readonly ready = new Map<ReferenceName, Promise<ReadyReference>>();

  constructor(
    private readonly targets: ReferenceTargets,
    private readonly run: RunOptions,
  ) {}

  get(name: ReferenceName): Promise<ReadyReference> {
    let entry = this.ready.get(name);
    if (!entry) {
      entry = this.prepare(references[name]);
      this.ready.set(name, entry);
    }
    return entry;
  }

  private async prepare(reference: Reference): Promise<ReadyReference> {
    const { baseUrl, request } = await reference.prepare(this.targets);
    const scenario = referenceScenario(reference);
    const source = fixed(request);
    await probe(baseUrl, scenario, request, "first request");
    if (this.run.warmupSeconds > 0) {
      log(`${reference.name}: warm-up ${this.run.warmupSeconds} s`);
      await runLoad(scenario, source, this.loadOptions(baseUrl, this.run.warmupSeconds));
    }
    return { reference, part: { scenario, source, baseUrl } };
  }

  private loadOptions(baseUrl: string, seconds: number) {
    return { baseUrl, seconds, connections: this.run.connections, generator: this.run.generator };
  }
}

const expectedStatus = (scenario: Scenario) => String(scenario.expectStatus ?? 200);

function unexpected(scenario: Scenario, summary: LoadSummary): number {
  return Object.entries(summary.statusCodes)
    .filter(([code]) => code !== expectedStatus(scenario))
    .reduce((n, [, count]) => n + count, 0);
}

function warnAbout(name: string, scenario: Scenario, summary: LoadSummary): void {
  if (summary.exhausted) log(`${name}: WARNING the request pool ran out before the end of the run`);
  if (summary.errors || unexpected(scenario, summary)) {
    log(`${name}: ${summary.errors} errors (${summary.timeouts} timeouts), status codes ${JSON.stringify(summary.statusCodes)}`);
  }
}

/** Requests per second no single-use scenario reaches here: every one of them writes to D1. */
const SINGLE_USE_MAX_RATE = 4_000;

async function runScenario(
  scenario: Scenario,
  server: Server,
  run: RunOptions,
  baseline: Baseline | null,
  pool: ReferencePool,
  profiler: { profiler: WorkerProfiler; dir: string } | undefined,
): Promise<{ result: ScenarioResult; source: RequestSource; entryWorker: EntryWorkerResult | null }> {
  // Upper bound on the requests a pool of single-use inputs (codes, refresh tokens) must hold: a
  // scenario is not faster than the baseline, with a margin (and a floor) because the baseline's
  // figure is noisy on a busy machine; and each of them writes to D1, which locally answers far
  // below SINGLE_USE_MAX_RATE. (Sized by the baseline alone, a 6 s run sealed ~180,000 codes, and
  // wrk re-read the whole pool for every slice: minutes per scenario.) A pool that runs dry is
  // reported as exhausted, not silently reused.
  const rate = Math.min(baseline ? Math.max(baseline.requestsPerSecond * 1.5, 3_000) : 20_000, SINGLE_USE_MAX_RATE);
  const plan: LoadPlan = {
    seconds: run.seconds,
    warmupSeconds: run.warmupSeconds,
    connections: run.connections,
    maxRequests: Math.ceil(rate * (run.seconds + run.warmupSeconds)) + 4 * run.connections + 10,
  };
  const started = Date.now();
  const source = await sourceFor(scenario, server, plan);
  if (scenario.prepare) log(`${scenario.name}: prepared in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const load = { baseUrl: server.baseUrl, connections: run.connections, generator: run.generator };

  // 1. One request, before anything else: a broken scenario fails here, with its response.
  const first = await probe(server.probeUrl, scenario, source.next(), "first request");
  // 2. Warm-up (isolate caches: client records, imported keys, JIT).
  if (run.warmupSeconds > 0) {
    log(`${scenario.name}: warm-up ${run.warmupSeconds} s`);
    // A pool of single-use inputs is shared in proportion to the durations.
    const poolShare = run.warmupSeconds / (run.warmupSeconds + run.seconds);
    await runLoad(scenario, source, { ...load, seconds: run.warmupSeconds, poolShare });
  }
  // 3. The per-request storage figure, from a warm request.
  // Warm the counting twin's isolate caches as the warm-up warmed the measured Worker's.
  await probe(server.probeUrl, scenario, source.next(), "probe twin warm-up");
  const warm = await probe(server.probeUrl, scenario, source.next(), "probe after warm-up");

  // 4. What it is measured against, each checked and warmed up on first use.
  const refs: ReadyReference[] = [];
  if (run.compare.includes("ceiling") && scenario.compare?.ceiling) refs.push(await pool.get(scenario.compare.ceiling));
  if (run.compare.includes("oidc-provider") && scenario.compare?.oidcProvider) refs.push(await pool.get(scenario.compare.oidcProvider));
  const entry: LoadPart | null =
    baseline === null && run.compare.includes("entry-worker")
      ? { scenario: { ...scenario, name: `${scenario.name} (entry worker)` }, source, baseUrl: server.entryUrl }
      : null;
  if (entry) await probe(entry.baseUrl, { ...entry.scenario, storageHeader: false }, source.next(), "through the entry worker");

  // 5. The measured run: interleaved slices of the scenario, the baseline and the references.
  const parts: LoadPart[] = [{ scenario, source, baseUrl: server.baseUrl }];
  if (run.paired && baseline) parts.push({ scenario: baseline.scenario, source: baseline.source, baseUrl: server.baseUrl });
  if (entry) parts.push(entry);
  for (const ref of refs) parts.push(ref.part);
  log(
    `${scenario.name}: load ${run.seconds} s, ${run.connections} connections, ${run.generator}` +
      (parts.length > 1 ? `, interleaved with ${parts.slice(1).map((p) => p.scenario.name).join(", ")}` : "") +
      (profiler ? " (profiling)" : ""),
  );
  await profiler?.profiler.start();
  const summaries = parts.length > 1 ? await runInterleaved(parts, { ...load, seconds: run.seconds }) : [await runLoad(scenario, source, { ...load, seconds: run.seconds })];
  if (profiler) {
    const file = path.join(profiler.dir, `${scenario.name}.cpuprofile`);
    await profiler.profiler.stop(file);
    log(`${scenario.name}: CPU profile written to ${path.relative(process.cwd(), file)}`);
  }

  const summary = summaries[0]!;
  warnAbout(scenario.name, scenario, summary);
  const summaryOf = (part: LoadPart) => summaries[parts.indexOf(part)]!;
  const paired = run.paired && baseline !== null;
  const baselineRps = paired ? summaries[1]!.requestsPerSecond : (baseline?.requestsPerSecond ?? null);

  const referenceResults: ReferenceResult[] = refs.map(({ reference, part }) => {
    const s = summaryOf(part);
    warnAbout(`${scenario.name}/${reference.name}`, part.scenario, s);
    return {
      name: reference.name,
      target: reference.target,
      description: reference.description,
      requestsPerSecond: s.requestsPerSecond,
      latencyMs: s.latencyMs,
      requests: s.requests,
      errors: s.errors,
      unexpectedStatus: unexpected(part.scenario, s),
    };
  });
  const rpsOf = (target: ReferenceResult["target"]) => referenceResults.find((r) => r.target === target)?.requestsPerSecond;

  let entryWorker: EntryWorkerResult | null = null;
  if (entry) {
    const s = summaryOf(entry);
    warnAbout(entry.scenario.name, entry.scenario, s);
    entryWorker = {
      route: `${scenario.request?.method ?? "GET"} ${scenario.request?.path ?? "?"}`,
      requestsPerSecond: s.requestsPerSecond,
      directRequestsPerSecond: summary.requestsPerSecond,
      latencyMs: s.latencyMs,
      errors: s.errors,
      unexpectedStatus: unexpected(entry.scenario, s),
    };
  }

  const result: ScenarioResult = {
    name: scenario.name,
    description: scenario.description,
    requestsPerSecond: summary.requestsPerSecond,
    ratio: baseline === null ? 1 : ratio(summary.requestsPerSecond, baselineRps),
    pairedBaselineRequestsPerSecond: paired ? baselineRps : null,
    ceilingRatio: ratio(summary.requestsPerSecond, rpsOf("ceiling")),
    oidcProviderRatio: ratio(summary.requestsPerSecond, rpsOf("oidc-provider")),
    references: referenceResults,
    generator: summary.generator,
    loadAverageAfter: loadAverage(),
    latencyMs: summary.latencyMs,
    requests: summary.requests,
    durationSeconds: summary.durationSeconds,
    errors: summary.errors,
    timeouts: summary.timeouts,
    unexpectedStatus: unexpected(scenario, summary),
    statusCodes: summary.statusCodes,
    storage: warm.storage,
    storageFirstRequest: first.storage,
    exhausted: summary.exhausted,
  };
  return { result, source, entryWorker };
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

  // Bounded time whatever happens: setup, per-scenario prepare allowance, the runs themselves (a
  // scenario is interleaved with up to four other parts), the references' warm-ups.
  const budgetSeconds =
    240 + scenarios.length * (5 * run.seconds + run.warmupSeconds + 90) + Object.keys(references).length * (run.warmupSeconds + 30);
  let server: Server | undefined;
  let peer: OidcPeer | undefined;
  const disposeAll = () => Promise.all([server?.dispose(), peer?.dispose()]);
  const abort = (reason: string, code: number) => {
    log(reason);
    stopRunning();
    const done = () => process.exit(code);
    setTimeout(done, 10_000).unref();
    disposeAll().then(done, done);
  };
  const watchdog = setTimeout(() => abort(`watchdog: still running after ${budgetSeconds} s, giving up`, 3), budgetSeconds * 1000);
  watchdog.unref();
  process.once("SIGINT", () => abort("interrupted", 130));
  process.once("SIGTERM", () => abort("terminated", 143));

  const machine = await machineInfo(ROOT);
  const settings = readWranglerSettings(ROOT);
  const withCeiling = run.compare.includes("ceiling");
  log(`bundling with wrangler deploy --dry-run${withCeiling ? " (the Worker and the ceiling Worker)" : ""}`);
  const [bundle, ceilingBundle] = await Promise.all([
    bundleWorker(ROOT, path.join(ROOT, "dist", "bench", "worker")),
    withCeiling ? bundleCeilingWorker(ROOT, path.join(ROOT, "dist", "bench", "ceiling"), settings) : Promise.resolve(undefined),
  ]);
  const results: ScenarioResult[] = [];
  let startup: StartupResult | null = null;
  let entryWorker: EntryWorkerResult | null = null;
  let profiler: { profiler: WorkerProfiler; dir: string } | undefined;
  try {
    if (run.startupRuns > 0) {
      log(`startup time: ${run.startupRuns} new isolates of the bundle and of a one-line Worker`);
      startup = await measureStartup(bundle, settings, run.startupRuns, log);
    }
    log(`starting workerd through Miniflare (compatibility date ${settings.compatibilityDate})`);
    const inspectorPort = profileDir ? await freePort() : undefined;
    server = await startServer(bundle, settings, { inspectorPort, ceiling: ceilingBundle });
    log(`serving at ${server.baseUrl} (direct socket; entry worker ${server.entryUrl}); seeded client ${server.ctx.client.id}`);
    if (server.ceiling) log(`ceiling Worker at ${server.ceiling.baseUrl}`);
    if (run.compare.includes("oidc-provider")) {
      peer = await startOidcPeer();
      log(`node-oidc-provider ${peer.version} at ${peer.baseUrl}`);
    }
    if (inspectorPort && profileDir) {
      profiler = { profiler: await WorkerProfiler.connect(inspectorPort), dir: profileDir };
    }
    console.log(formatHeader(machine, bundle, run, startup, { ceiling: ceilingBundle ?? null, oidcProviderVersion: peer?.version ?? null }));
    if (profiler) console.log("Profiling: the Worker runs slower than usual, do not compare these figures");

    const pool = new ReferencePool({ ceiling: server.ceiling, oidcProvider: peer ?? null }, run);
    let baseline: Baseline | null = null;
    for (const scenario of scenarios) {
      const outcome = await runScenario(scenario, server, run, baseline, pool, profiler);
      if (baseline === null) baseline = { scenario, source: outcome.source, requestsPerSecond: outcome.result.requestsPerSecond };
      entryWorker ??= outcome.entryWorker;
      results.push(outcome.result);
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
    await disposeAll();
    server = undefined;
    peer = undefined;
  }

  const ok = results.every(
    (r) => r.errors === 0 && r.unexpectedStatus === 0 && r.references.every((ref) => ref.errors === 0 && ref.unexpectedStatus === 0),
  ) && (!entryWorker || (entryWorker.errors === 0 && entryWorker.unexpectedStatus === 0));
  console.log(`\n${formatResults(results, entryWorker)}`);
  const report: Report = {
    date: new Date().toISOString(),
    ok,
    loadAverageAtEnd: loadAverage(),
    machine,
    method: METHOD,
    bundle: bundleFigures(bundle),
    ceilingBundle: ceilingBundle ? bundleFigures(ceilingBundle) : null,
    startup,
    entryWorker,
    options: { ...run, profiled: Boolean(profileDir) },
    scenarios: results,
  };
  await writeReport(jsonFile, report);
  console.log(`\nResults written to ${path.relative(process.cwd(), jsonFile) || jsonFile}`);
  if (!ok) console.error("bench: some scenarios or references had errors or unexpected statuses (see above)");
  return ok ? 0 : 1;
}

const bundleFigures = (b: Bundle) => ({ path: path.relative(ROOT, b.script), bytes: b.bytes, gzipBytes: b.gzipBytes });

const METHOD =
  "The Worker's bundle (wrangler deploy --dry-run) served by workerd through Miniflare's API, measured on its own " +
  "socket (unsafeDirectSockets), past Miniflare's entry worker. Each scenario runs in ~1 s slices taken in turn with " +
  "the trivial route of the same Worker (GET /healthz), the ceiling Worker's matching route (Hono + jose, same " +
  "workerd, bundled the same way) and node-oidc-provider's (in memory, child Node process); ratios are of requests/s " +
  "in those slices. Load from wrk (one thread) when installed, else autocannon.";

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error("bench: failed:", err);
    process.exit(1);
  },
);
