import autocannon, { type Instance, type Options, type RawRequest, type RawResult } from "autocannon";
import type { BenchContext, BenchRequest, RequestSource, Scenario, StorageOps } from "./types";

/** `X-Storage-Ops: d1=N, d1_statements=N, kv=N` as numbers; null when absent. */
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
  return { d1: d1!, d1Statements: d1Statements!, kv: kv! };
}

export class ScenarioCheckError extends Error {
  override name = "ScenarioCheckError";
}

export interface ProbeResult {
  status: number;
  body: string;
  storage: StorageOps | null;
}

/** Sends one request of the scenario and checks its status (and body, when the scenario says how). */
export async function probe(ctx: BenchContext, scenario: Scenario, request: BenchRequest, label: string): Promise<ProbeResult> {
  const expected = scenario.expectStatus ?? 200;
  const response = await ctx.fetch(request.path, {
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
}

export interface LoadOptions {
  baseUrl: string;
  seconds: number;
  connections: number;
  /** For sources with `remaining()`: the share of what is left this run may use (warm-up: a part). */
  poolShare?: number;
}

/** One or more autocannon runs of a scenario, merged. */
export interface LoadSummary {
  requests: number;
  durationSeconds: number;
  requestsPerSecond: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  latencyMs: { average: number; p50: number; p90: number; p99: number; max: number };
  /** The request pool ran dry before the duration was over. */
  exhausted: boolean;
}

interface RawRun {
  raw: RawResult;
  exhausted: boolean;
}

/**
 * Loads the server with autocannon for `seconds`. A source with `fixed` uses autocannon's fast path
 * (the request is encoded once); any other source is asked for every request through `setupRequest`.
 */
async function runRaw(scenario: Scenario, source: RequestSource, options: LoadOptions): Promise<RawRun> {
  const base: Options = {
    url: options.baseUrl,
    connections: options.connections,
    duration: options.seconds,
    timeout: 10,
    title: scenario.name,
    skipAggregateResult: true,
  };
  let capped = false;
  if (source.fixed) {
    const r = source.fixed;
    base.requests = [{ method: r.method ?? "GET", path: r.path, headers: r.headers ?? {}, body: r.body }];
  } else {
    if (source.remaining) {
      // Each connection builds its next request before it learns the run is over: keep a margin.
      const cap = Math.floor((source.remaining() - options.connections) * (options.poolShare ?? 1));
      if (cap < options.connections) {
        throw new ScenarioCheckError(
          `scenario "${scenario.name}": its request pool has ${source.remaining()} left, too few for ${options.connections} connections`,
        );
      }
      base.maxOverallRequests = cap;
      capped = true;
    }
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
  return { raw, exhausted: capped && raw.duration < options.seconds * 0.95 };
}

function summarize(runs: RawRun[], options: LoadOptions): LoadSummary {
  const requests = runs.reduce((n, r) => n + r.raw.totalCompletedRequests, 0);
  const durationSeconds = runs.reduce((n, r) => n + r.raw.duration, 0);
  const merged = autocannon.aggregateResult(
    runs.map((r) => r.raw),
    { url: options.baseUrl, connections: options.connections },
  );
  const statusCodes: Record<string, number> = {};
  for (const [code, { count }] of Object.entries(merged.statusCodeStats)) statusCodes[code] = count;
  return {
    requests,
    durationSeconds,
    requestsPerSecond: durationSeconds > 0 ? requests / durationSeconds : 0,
    errors: merged.errors,
    timeouts: merged.timeouts,
    statusCodes,
    latencyMs: {
      average: merged.latency.average,
      p50: merged.latency.p50,
      p90: merged.latency.p90,
      p99: merged.latency.p99,
      max: merged.latency.max,
    },
    exhausted: runs.some((r) => r.exhausted),
  };
}

/** One load run of `seconds`. */
export async function runLoad(scenario: Scenario, source: RequestSource, options: LoadOptions): Promise<LoadSummary> {
  return summarize([await runRaw(scenario, source, options)], options);
}

/**
 * `--paired`: the scenario's load run cut into slices of about a second, each followed by a slice of
 * the baseline, so that both see the same background load; on a busy shared machine the ratio of
 * the two is far steadier than that of runs made at different times.
 */
export async function runPaired(
  scenario: Scenario,
  source: RequestSource,
  baseline: { scenario: Scenario; source: RequestSource },
  options: LoadOptions,
): Promise<{ scenario: LoadSummary; baseline: LoadSummary }> {
  const slices = Math.max(1, Math.round(options.seconds));
  const sliceOptions = { ...options, seconds: options.seconds / slices };
  const mine: RawRun[] = [];
  const theirs: RawRun[] = [];
  for (let i = 0; i < slices; i++) {
    const run = await runRaw(scenario, source, { ...sliceOptions, poolShare: 1 / (slices - i) });
    mine.push(run);
    theirs.push(await runRaw(baseline.scenario, baseline.source, sliceOptions));
    if (run.exhausted) break;
  }
  return { scenario: summarize(mine, options), baseline: summarize(theirs, options) };
}
