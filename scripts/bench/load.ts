import autocannon, { type Instance, type Options, type RawRequest, type RawResult } from "autocannon";
import { runWrk, stopWrk, type RunResult } from "./wrk";
import type { BenchRequest, RequestSource, Scenario, StorageOps } from "./types";

/** `X-Storage-Ops: d1=N, d1_statements=N, kv=N[, d1_primary=N, d1_replica=N]` as numbers; null when absent. */
export function parseStorageOps(header: string | null): StorageOps | null {
  if (!header) return null;
  const values: Record<string, number> = {};
  for (const part of header.split(",")) {
    const [key, value] = part.trim().split("=");
    if (key && value !== undefined) values[key] = Number(value);
  }
  const { d1, d1_statements: d1Statements, kv } = values;
  if ([d1, d1Statements, kv].some((v) => v === undefined || !Number.isFinite(v))) {
    throw new Error(`cannot parse X-Storage-Ops: "${header}"`);
  }
  const split = Number.isFinite(values.d1_primary) && Number.isFinite(values.d1_replica) ? { d1Primary: values.d1_primary, d1Replica: values.d1_replica } : {};
  return { d1: d1!, d1Statements: d1Statements!, kv: kv!, ...split };
}

export class ScenarioCheckError extends Error {
  override name = "ScenarioCheckError";
}

export interface ProbeResult {
  status: number;
  body: string;
  storage: StorageOps | null;
}

/** Sends one request of the scenario to `baseUrl` and checks its status (and body, when the scenario says how). */
export async function probe(baseUrl: string, scenario: Scenario, sent: BenchRequest, label: string): Promise<ProbeResult> {
  const expected = scenario.expectStatus ?? 200;
  const request = sent.forOrigin ? await sent.forOrigin(new URL(baseUrl).origin) : sent;
  const response = await fetch(new URL(request.path, baseUrl), {
    method: request.method ?? "GET",
    headers: { "accept-encoding": "identity", ...request.headers },
    body: request.body,
  });
  const body = await response.text();
  const where = `scenario "${scenario.name}" (${label}: ${request.method ?? "GET"} ${request.path})`;
  if (response.status !== expected) {
    throw new ScenarioCheckError(`${where}: expected status ${expected}, got ${response.status}\n${body.slice(0, 500)}`);
  }
  const storage = parseStorageOps(response.headers.get("x-storage-ops"));
  if ((scenario.storageHeader ?? true) && !storage) {
    throw new ScenarioCheckError(`${where}: no X-Storage-Ops header (is STORAGE_COUNT_HEADER=true reaching the Worker?)`);
  }
  if (scenario.verify) {
    let problem: string | void;
    try {
      problem = scenario.verify(body, response);
    } catch (err) {
      problem = err instanceof Error ? err.message : String(err);
    }
    if (problem) throw new ScenarioCheckError(`${where}: ${problem}\n${body.slice(0, 500)}`);
  }
  return { status: response.status, body, storage };
}

let running: Instance | undefined;

/** Stops the load run in progress, if any (Ctrl-C, watchdog). */
export function stopRunning(): void {
  running?.stop();
  stopWrk();
}

export type LoadGenerator = "wrk" | "autocannon";

export interface LoadOptions {
  baseUrl: string;
  seconds: number;
  connections: number;
  /** wrk when it is installed; autocannon otherwise (and for endless sources that vary per request). */
  generator: LoadGenerator;
  /** For sources with `remaining()`: the share of what is left this run may use (warm-up: a part). */
  poolShare?: number;
}

/** One or more load runs of a scenario, merged. */
export interface LoadSummary extends RunResult {
  requestsPerSecond: number;
  /** With several runs (interleaved slices), `latencyMs` holds the slices' percentiles weighted by their requests. */
  generator: LoadGenerator;
}

/** How many requests of a pool this run may take: a share of what is left, with a margin for the connections. */
function poolCap(scenario: Scenario, source: RequestSource, options: LoadOptions): number | undefined {
  if (!source.remaining || source.fixed) return undefined;
  // Each connection builds its next request before it learns the run is over: keep a margin.
  const cap = Math.floor((source.remaining() - options.connections) * (options.poolShare ?? 1));
  if (cap < options.connections) {
    throw new ScenarioCheckError(
      `scenario "${scenario.name}": its request pool has ${source.remaining()} left, too few for ${options.connections} connections`,
    );
  }
  return cap;
}

/**
 * Loads the server with autocannon for `seconds`. A source with `fixed` uses autocannon's fast path
 * (the request is encoded once); any other source is asked for every request through `setupRequest`.
 */
async function runAutocannon(scenario: Scenario, source: RequestSource, options: LoadOptions): Promise<RunResult> {
  const base: Options = {
    url: options.baseUrl,
    connections: options.connections,
    duration: options.seconds,
    timeout: 10,
    title: scenario.name,
    skipAggregateResult: true,
  };
  const cap = poolCap(scenario, source, options);
  if (source.fixed) {
    const r = source.fixed;
    base.requests = [{ method: r.method ?? "GET", path: r.path, headers: r.headers ?? {}, body: r.body }];
  } else {
    if (cap !== undefined) base.maxOverallRequests = cap;
    base.requests = [
      {
        setupRequest: (req: RawRequest): RawRequest => {
          const r = source.next();
          return {
            ...req,
            method: r.method ?? "GET",
            path: r.path,
            headers: { ...req.headers, ...r.headers },
            body: r.body ?? Buffer.alloc(0),
          };
        },
      },
    ];
  }
  const raw = await new Promise<RawResult>((resolve, reject) => {
    running = autocannon(base, (err, res) => (err ? reject(err) : resolve(res as unknown as RawResult)));
  }).finally(() => {
    running = undefined;
  });
  const merged = autocannon.aggregateResult([raw], { url: options.baseUrl, connections: options.connections });
  const statusCodes: Record<string, number> = {};
  for (const [code, { count }] of Object.entries(merged.statusCodeStats)) statusCodes[code] = count;
  const { average, p50, p90, p99, max } = merged.latency;
  return {
    requests: raw.totalCompletedRequests,
    durationSeconds: raw.duration,
    errors: merged.errors,
    timeouts: merged.timeouts,
    statusCodes,
    latencyMs: { average, p50, p90, p99, max },
    exhausted: cap !== undefined && raw.duration < options.seconds * 0.95,
  };
}

/** wrk: one thread, so that on two cores the server keeps one to itself. */
const WRK_THREADS = 1;

/** Whether `generator` can run this source (wrk needs a fixed request or a finite pool). */
export function generatorFor(source: RequestSource, preferred: LoadGenerator): LoadGenerator {
  return preferred === "wrk" && (source.fixed || source.remaining) ? "wrk" : "autocannon";
}

async function runOnce(scenario: Scenario, source: RequestSource, options: LoadOptions): Promise<RunResult> {
  if (generatorFor(source, options.generator) === "autocannon") return runAutocannon(scenario, source, options);
  const wrkOptions = { baseUrl: options.baseUrl, seconds: options.seconds, connections: options.connections, threads: WRK_THREADS };
  if (source.fixed) return runWrk({ fixed: source.fixed }, wrkOptions);
  const cap = poolCap(scenario, source, options)!;
  const pool = Array.from({ length: cap }, () => source.next());
  return runWrk({ pool }, wrkOptions);
}

/** Merges runs: sums of requests, time and errors; percentiles weighted by each run's requests. */
export function summarize(runs: RunResult[], generator: LoadGenerator): LoadSummary {
  const requests = runs.reduce((n, r) => n + r.requests, 0);
  const durationSeconds = runs.reduce((n, r) => n + r.durationSeconds, 0);
  const statusCodes: Record<string, number> = {};
  for (const run of runs) {
    for (const [code, count] of Object.entries(run.statusCodes)) statusCodes[code] = (statusCodes[code] ?? 0) + count;
  }
  const weighted = (pick: (r: RunResult) => number) =>
    requests > 0 ? runs.reduce((sum, r) => sum + pick(r) * r.requests, 0) / requests : 0;
  return {
    requests,
    durationSeconds,
    requestsPerSecond: durationSeconds > 0 ? requests / durationSeconds : 0,
    errors: runs.reduce((n, r) => n + r.errors, 0),
    timeouts: runs.reduce((n, r) => n + r.timeouts, 0),
    statusCodes,
    latencyMs: {
      average: weighted((r) => r.latencyMs.average),
      p50: weighted((r) => r.latencyMs.p50),
      p90: weighted((r) => r.latencyMs.p90),
      p99: weighted((r) => r.latencyMs.p99),
      max: Math.max(0, ...runs.map((r) => r.latencyMs.max)),
    },
    exhausted: runs.some((r) => r.exhausted),
    generator,
  };
}

/** One load run of `seconds`. */
export async function runLoad(scenario: Scenario, source: RequestSource, options: LoadOptions): Promise<LoadSummary> {
  return summarize([await runOnce(scenario, source, options)], generatorFor(source, options.generator));
}

/** What runInterleaved loads: a scenario's requests against one server. */
export interface LoadPart {
  scenario: Scenario;
  source: RequestSource;
  baseUrl: string;
}

/**
 * The parts' load runs cut into slices of about a second, taken in turn (A B C A B C ...), so that
 * all of them see the same background load: on a busy shared machine the ratios of their figures
 * are far steadier than those of runs made at different times. Every part uses the same load
 * generator (autocannon for all if one part needs it), so that no ratio mixes two generators.
 */
export async function runInterleaved(parts: LoadPart[], options: Omit<LoadOptions, "baseUrl" | "poolShare">): Promise<LoadSummary[]> {
  const generator = parts.every((p) => generatorFor(p.source, options.generator) === "wrk") ? "wrk" : "autocannon";
  const slices = Math.max(1, Math.round(options.seconds));
  const seconds = options.seconds / slices;
  const runs: RunResult[][] = parts.map(() => []);
  for (let i = 0; i < slices; i++) {
    let exhausted = false;
    for (const [index, part] of parts.entries()) {
      const run = await runOnce(part.scenario, part.source, {
        ...options,
        generator,
        seconds,
        baseUrl: part.baseUrl,
        poolShare: 1 / (slices - i),
      });
      runs[index]!.push(run);
      exhausted ||= run.exhausted;
    }
    if (exhausted) break;
  }
  return runs.map((r) => summarize(r, generator));
}

/** The ratio of two rates, or null when the second is not a positive number. */
export function ratio(numerator: number, denominator: number | null | undefined): number | null {
  return denominator && denominator > 0 && Number.isFinite(denominator) ? numerator / denominator : null;
}
