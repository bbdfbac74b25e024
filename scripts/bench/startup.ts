/**
 * The Worker's cold-start time: how long workerd takes to give the bundle a new isolate (compile,
 * evaluate its top level) and answer its first request.
 *
 * Measured inside one workerd, so process start-up and its noise stay out of it: a harness Worker
 * asks its Worker Loader binding for a new isolate running the bundle (`LOADER.load()` never reuses
 * one), sends it GET /healthz (Hono routing, the settings parsed with zod) and times, with the
 * runtime's clock, from the request for the isolate to the response's body. The same is done for a
 * one-line Worker, alternating with the bundle; the startup figure is the difference of the medians.
 * The isolate gets the Worker's vars and secrets but no D1 or KV, which /healthz does not use.
 */
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { convertV4MiniflareOptions, Log, LogLevel, Miniflare } from "miniflare";
import { randomToken } from "../../src/core/crypto";
import { generateSigningKeySet } from "../../src/tokens/generate-keys";
import type { Bundle, WranglerSettings } from "./server";

const FIRST_REQUEST = "/healthz";
const TRIVIAL_WORKER = `export default { fetch() { return new Response("ok"); } };`;

/** The harness: `GET /?worker=bundle|trivial` loads that code in a new isolate and times its first response. */
const HARNESS = `
export default {
  async fetch(request, env) {
    const which = new URL(request.url).searchParams.get("worker");
    const modules = which === "bundle" ? env.BUNDLE_MODULES : { "index.js": ${JSON.stringify(TRIVIAL_WORKER)} };
    const started = performance.now();
    const worker = env.LOADER.load({
      compatibilityDate: env.COMPATIBILITY.date,
      compatibilityFlags: env.COMPATIBILITY.flags,
      mainModule: "index.js",
      modules,
      env: env.WORKER_ENV,
      globalOutbound: null,
    });
    const response = await worker.getEntrypoint().fetch("http://localhost${FIRST_REQUEST}");
    const body = await response.text();
    const elapsedMs = performance.now() - started;
    return Response.json({ elapsedMs, status: response.status, body: body.slice(0, 200) });
  },
};`;

export interface StartupResult {
  /** How the figure was measured, in words (also in results.json). */
  method: string;
  /** Counted samples per Worker; one more round runs first, uncounted. */
  runs: number;
  /** bundleMedianMs − trivialMedianMs: evaluating the bundle and answering its first request. */
  startupMs: number;
  bundleMedianMs: number;
  trivialMedianMs: number;
  bundleSamplesMs: number[];
  trivialSamplesMs: number[];
}

export function median(values: number[]): number {
  if (values.length === 0) throw new Error("median of no values");
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** The bundle's JavaScript modules by name (wrangler writes index.js, and more files only with module rules). */
async function bundleModules(bundle: Bundle): Promise<Record<string, string>> {
  const modules: Record<string, string> = {};
  for (const file of await readdir(bundle.dir)) {
    if (/\.m?js$/.test(file)) modules[file] = await readFile(path.join(bundle.dir, file), "utf8");
  }
  if (!modules["index.js"]) throw new Error(`startup: no index.js in ${bundle.dir}`);
  return modules;
}

async function startHarness(bundle: Bundle, settings: WranglerSettings): Promise<Miniflare> {
  const workerEnv = {
    ...settings.vars,
    SIGNING_KEYS: JSON.stringify(await generateSigningKeySet()),
    SECRET_KEY: randomToken(32),
  };
  const options = convertV4MiniflareOptions({
    host: "127.0.0.1",
    port: 0,
    cf: false, // no attempt to download the Request.cf placeholder (there is no internet here)
    log: new Log(LogLevel.WARN),
    modules: true,
    script: HARNESS,
    compatibilityDate: settings.compatibilityDate,
    bindings: {
      BUNDLE_MODULES: await bundleModules(bundle),
      COMPATIBILITY: { date: settings.compatibilityDate, flags: settings.compatibilityFlags },
      WORKER_ENV: workerEnv,
    },
    workerLoaders: { LOADER: {} },
  });
  return new Miniflare({ ...options, enableDevRegistry: false });
}

interface Sample {
  elapsedMs: number;
  status: number;
  body: string;
}

async function sample(baseUrl: URL, which: "bundle" | "trivial"): Promise<number> {
  const response = await fetch(new URL(`/?worker=${which}`, baseUrl));
  const text = await response.text();
  if (response.status !== 200) throw new Error(`startup: the harness answered ${response.status}: ${text.slice(0, 300)}`);
  const result = JSON.parse(text) as Sample;
  if (result.status !== 200) {
    throw new Error(`startup: the ${which} Worker answered GET ${FIRST_REQUEST} with ${result.status}: ${result.body}`);
  }
  return result.elapsedMs;
}

export async function measureStartup(
  bundle: Bundle,
  settings: WranglerSettings,
  runs: number,
  log: (message: string) => void,
): Promise<StartupResult> {
  const mf = await startHarness(bundle, settings);
  const bundleSamples: number[] = [];
  const trivialSamples: number[] = [];
  try {
    const baseUrl = await mf.ready;
    for (let round = 0; round <= runs; round++) {
      // Alternating, so drift on the machine (other processes, JIT of the harness) touches both alike.
      const trivialMs = await sample(baseUrl, "trivial");
      const bundleMs = await sample(baseUrl, "bundle");
      if (round === 0) continue;
      trivialSamples.push(trivialMs);
      bundleSamples.push(bundleMs);
    }
  } finally {
    await mf.dispose();
  }
  const bundleMedianMs = median(bundleSamples);
  const trivialMedianMs = median(trivialSamples);
  log(`startup: bundle ${bundleSamples.join(", ")} ms; trivial Worker ${trivialSamples.join(", ")} ms`);
  return {
    method:
      `median over ${runs} new isolates (workerd's Worker Loader, one process) of the time from loading the bundle ` +
      `to the body of its first GET ${FIRST_REQUEST} response, minus the same for a one-line Worker, run alternately`,
    runs,
    startupMs: bundleMedianMs - trivialMedianMs,
    bundleMedianMs,
    trivialMedianMs,
    bundleSamplesMs: bundleSamples,
    trivialSamplesMs: trivialSamples,
  };
}
