import autocannon, { type Instance, type Options, type RawRequest, type Result } from "autocannon";
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

export interface LoadRun {
  result: Result;
  /** The request pool ran dry before the duration was over. */
  exhausted: boolean;
}

/**
 * Loads the server with autocannon for `seconds`. A scenario with a fixed request uses autocannon's
 * fast path (request encoded once); a source is asked for every request through `setupRequest`.
 */
export async function runLoad(scenario: Scenario, source: RequestSource, options: LoadOptions): Promise<LoadRun> {
  const base: Options = {
    url: options.baseUrl,
    connections: options.connections,
    duration: options.seconds,
    timeout: 10,
    title: scenario.name,
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
  const result = await new Promise<Result>((resolve, reject) => {
    running = autocannon(base, (err, res) => (err ? reject(err) : resolve(res)));
  }).finally(() => {
    running = undefined;
  });
  const exhausted = capped && result.duration < options.seconds * 0.95;
  return { result, exhausted };
}
