import type { Miniflare } from "miniflare";
import type { Database } from "../../src/db/index";
import type { Client } from "../../src/db/schema";
import type { LoadGenerator } from "./load";
import type { ReferenceName } from "./references";

/** One HTTP request of a scenario. `path` is relative to the server, e.g. `/o/token/`. */
export interface BenchRequest {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /**
   * The same request for a server at another origin, when it depends on the URL it is sent to
   * (a DPoP proof names it): the probes go to the storage-counting twin on its own socket.
   */
  forOrigin?: (origin: string) => Promise<BenchRequest>;
}

/**
 * Where the requests of a scenario come from when each one must differ (authorization codes,
 * refresh tokens, ...). `next()` is called for the check request, the warm-up, the storage probe and
 * every request of the load run, in that order, from a single thread.
 */
export interface RequestSource {
  next(): BenchRequest;
  /** Set when every request is this one: the load run then encodes it once (autocannon's fast path). */
  fixed?: BenchRequest;
  /**
   * How many more requests `next()` can give, for pools of single-use inputs. The load run is then
   * capped at that many requests (it ends early, marked `exhausted`, if the pool runs dry).
   * Leave it out for sources that never run out.
   */
  remaining?(): number;
}

/** What `prepare()` is told about the coming run, to size pools of single-use inputs. */
export interface LoadPlan {
  seconds: number;
  warmupSeconds: number;
  connections: number;
  /**
   * A generous upper bound on how many requests will be asked of the source (check + warm-up +
   * probe + load), from the baseline's measured rate. A scenario is never faster than the baseline.
   */
  maxRequests: number;
}

/** A confidential client seeded before the run. */
export interface SeededClient {
  id: string;
  secret: string;
  /** `Basic ...` header value for client_secret_basic. */
  authorization: string;
  record: Client;
}

/** What scenarios may use to set themselves up. */
export interface BenchContext {
  /** `http://127.0.0.1:PORT`, served by workerd through Miniflare. */
  baseUrl: string;
  mf: Miniflare;
  /** The D1 database of the Worker, driven from Node (Miniflare proxy), with the app's Drizzle schema. */
  db: Database;
  d1: D1Database;
  kv: Awaited<ReturnType<Miniflare["getKVNamespace"]>>;
  /** A confidential client allowed client_credentials (and whatever seed.ts grants), scope "read write". */
  client: SeededClient;
  /** A user of the built-in store (for codes, refresh tokens and password grants). */
  user: { id: string; username: string; password: string };
  /** The SIGNING_KEYS secret the Worker runs with (a JWK set, as JSON). */
  signingKeys: string;
  /** The SECRET_KEY the Worker runs with (seals authorization codes). */
  secretKey: string;
  /** `fetch` against the running Worker: `ctx.fetch("/o/token/", {...})`. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
}

export interface Scenario {
  /** Short name: the table's first column and the key in results.json. */
  name: string;
  description: string;
  /** A fixed request, sent over and over (autocannon's fast path: the request is encoded once). */
  request?: BenchRequest;
  /**
   * For requests that must differ: called once before the scenario runs (not timed); returns the
   * source of requests. Seed data through `ctx.db` / `ctx.d1` / `ctx.kv` or through `ctx.fetch`.
   */
  prepare?: (ctx: BenchContext, plan: LoadPlan) => Promise<RequestSource>;
  /** The status every response must have (default 200); anything else counts as a failure. */
  expectStatus?: number;
  /** Whether the route is one of the provider's and so reports `X-Storage-Ops` (default true). */
  storageHeader?: boolean;
  /** Checks the body of the check request; return (or throw) a message to abort the benchmark. */
  verify?: (body: string, response: Response) => string | void;
  /**
   * What to compare it with, measured interleaved with it (references.ts): a route of the ceiling
   * Worker, and one of node-oidc-provider.
   */
  compare?: { ceiling?: ReferenceName; oidcProvider?: ReferenceName };
}

/** The per-request storage figure from `X-Storage-Ops`. */
export interface StorageOps {
  d1: number;
  d1Statements: number;
  kv: number;
  /** Of the D1 round-trips, those to the primary and those a replica may answer (D1 sessions). */
  d1Primary?: number;
  d1Replica?: number;
}

/** A reference's figures in the slices interleaved with one scenario. */
export interface ReferenceResult {
  name: ReferenceName;
  target: "ceiling" | "oidc-provider";
  description: string;
  requestsPerSecond: number;
  latencyMs: { average: number; p50: number; p90: number; p99: number; max: number };
  requests: number;
  errors: number;
  unexpectedStatus: number;
}

export interface ScenarioResult {
  name: string;
  description: string;
  /** On the Worker's direct socket. */
  requestsPerSecond: number;
  /** requestsPerSecond / the baseline's (trivial route, same Worker, interleaved slices). */
  ratio: number | null;
  /** The baseline's requests/s in the slices interleaved with this scenario's (null when not interleaved). */
  pairedBaselineRequestsPerSecond: number | null;
  /** requestsPerSecond / the ceiling Worker's route named in `compare`, interleaved; null without one. */
  ceilingRatio: number | null;
  /** requestsPerSecond / node-oidc-provider's route named in `compare`, interleaved; null without one. */
  oidcProviderRatio: number | null;
  /** The references' own figures, from the same interleaved slices. */
  references: ReferenceResult[];
  /** What generated the load (the same for every part of the interleaved run). */
  generator: LoadGenerator;
  /** 1-minute load average when the scenario's run ended (it includes the benchmark's own load). */
  loadAverageAfter: number;
  latencyMs: { average: number; p50: number; p90: number; p99: number; max: number };
  requests: number;
  durationSeconds: number;
  /** Socket errors and timeouts. */
  errors: number;
  timeouts: number;
  /** Responses whose status was not the expected one (for the default 200: the non-2xx count). */
  unexpectedStatus: number;
  statusCodes: Record<string, number>;
  /** From the probe sent after the warm-up, just before the load run; null if the route has no header. */
  storage: StorageOps | null;
  /** From the very first request of the scenario (cold isolate caches). */
  storageFirstRequest: StorageOps | null;
  /** The request pool ran out before the duration was over. */
  exhausted: boolean;
}
