// Just enough of autocannon 9's programmatic API for the benchmark (the package ships no types).
declare module "autocannon" {
  import type { EventEmitter } from "node:events";

  export interface RawRequest {
    method: string;
    path: string;
    headers: Record<string, string>;
    body?: string | Buffer;
    [key: string]: unknown;
  }

  export interface RequestSpec {
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
    /** Called for every request; returns the request to send (a falsy value restarts the sequence). */
    setupRequest?: (request: RawRequest, context: Record<string, unknown>) => RawRequest | null | undefined;
    onResponse?: (status: number, body: string, context: Record<string, unknown>, headers: Record<string, string>) => void;
  }

  export interface Options {
    url: string;
    connections?: number;
    duration?: number;
    amount?: number;
    timeout?: number;
    pipelining?: number;
    method?: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
    requests?: RequestSpec[];
    maxOverallRequests?: number;
    sampleInt?: number;
    excludeErrorStats?: boolean;
    /** Hand back the raw result (encoded histograms), to merge several runs with aggregateResult(). */
    skipAggregateResult?: boolean;
    title?: string;
  }

  /** What a run with skipAggregateResult hands back. */
  export interface RawResult {
    latencies: unknown;
    requests: unknown;
    throughput: unknown;
    totalCompletedRequests: number;
    totalRequests: number;
    duration: number;
    errors: number;
    timeouts: number;
    statusCodeStats: Record<string, { count: number }>;
  }

  export interface Histogram {
    average: number;
    mean: number;
    stddev: number;
    min: number;
    max: number;
    total: number;
    sent?: number;
    p2_5: number;
    p50: number;
    p75: number;
    p90: number;
    p97_5: number;
    p99: number;
    p99_9: number;
  }

  export interface Result {
    title?: string;
    url: string;
    requests: Histogram;
    latency: Histogram;
    throughput: Histogram;
    duration: number;
    errors: number;
    timeouts: number;
    mismatches: number;
    non2xx: number;
    resets: number;
    statusCodeStats: Record<string, { count: number }>;
    start: Date;
    finish: Date;
  }

  export interface Instance extends EventEmitter, PromiseLike<Result> {
    stop(): void;
  }

  function autocannon(options: Options, callback?: (err: Error | null, result: Result) => void): Instance;
  namespace autocannon {
    /** Merges raw results (note: `duration` is the first one's, not the sum). */
    function aggregateResult(results: RawResult[], options: Partial<Options>): Result;
  }
  export default autocannon;
}
