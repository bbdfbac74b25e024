/**
 * Load runs with wrk (Debian's `wrk`, C and LuaJIT): far less CPU per request than autocannon in
 * Node, which matters on a 2-core machine where the load generator competes with the server.
 *
 * A fixed request is set once in the script (wrk's fast path). A pool of single-use requests is
 * written to a file of raw HTTP requests that the script reads; a thread whose share runs out stops
 * (the run is then `exhausted`). A `response()` hook counts the statuses, and `done()` prints the
 * summary as one line of JSON, which is all this module reads.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { BenchRequest } from "./types";

/** One load run, whatever ran it. */
export interface RunResult {
  requests: number;
  durationSeconds: number;
  /** Socket errors (connect, read, write) and timeouts. */
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  latencyMs: { average: number; p50: number; p90: number; p99: number; max: number };
  /** The request pool ran dry before the duration was over. */
  exhausted: boolean;
}

/** wrk's version line, or null when `wrk` is not on PATH. */
export function wrkVersion(): string | null {
  const result = spawnSync("wrk", ["--version"], { encoding: "utf8" });
  if (result.error) return null;
  const line = `${result.stdout}${result.stderr}`.split("\n")[0]?.trim() ?? "";
  const match = /^wrk\s+(\S+)/.exec(line);
  return match ? match[1]! : line || "unknown";
}

/** A Lua string literal of any bytes (\ddd escapes for everything but printable ASCII). */
export function luaString(value: string): string {
  let out = '"';
  for (const byte of Buffer.from(value, "utf8")) {
    const char = String.fromCharCode(byte);
    if (byte >= 0x20 && byte < 0x7f && char !== '"' && char !== "\\") out += char;
    else out += `\\${String(byte).padStart(3, "0")}`;
  }
  return `${out}"`;
}

/** The raw HTTP/1.1 bytes of a request, as wrk sends them. */
export function rawRequest(request: BenchRequest, host: string): string {
  const body = request.body ?? "";
  const headers: Record<string, string> = { host, ...request.headers };
  if (body || (request.method ?? "GET") !== "GET") headers["content-length"] = String(Buffer.byteLength(body));
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}`);
  return `${request.method ?? "GET"} ${request.path} HTTP/1.1\r\n${lines.join("\r\n")}\r\n\r\n${body}`;
}

const COMMON = `
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end
statuses = {}
exhausted = false
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
function done(summary, latency, requests)
  local codes, parts, stopped = {}, {}, false
  for _, thread in ipairs(threads) do
    for code, count in pairs(thread:get("statuses")) do codes[code] = (codes[code] or 0) + count end
    if thread:get("exhausted") then stopped = true end
  end
  for code, count in pairs(codes) do table.insert(parts, string.format('"%d":%d', code, count)) end
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests":%d,"durationUs":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,' ..
    '"latencyUs":{"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"max":%d},"exhausted":%s,"statuses":{%s}}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    tostring(stopped), table.concat(parts, ",")))
end
`;

/** The script for one fixed request. */
export function fixedScript(request: BenchRequest): string {
  const headers = Object.entries(request.headers ?? {})
    .map(([name, value]) => `wrk.headers[${luaString(name)}] = ${luaString(value)}`)
    .join("\n");
  return [
    `wrk.method = ${luaString(request.method ?? "GET")}`,
    `wrk.path = ${luaString(request.path)}`,
    request.body === undefined ? "" : `wrk.body = ${luaString(request.body)}`,
    headers,
    COMMON,
  ].join("\n");
}

/** The script for a pool of raw requests in `file`, separated by NUL bytes, shared among the threads. */
export function poolScript(file: string, threads: number): string {
  return `
local pool, index = {}, 0
function init(args)
  local f = assert(io.open(${luaString(file)}, "rb"))
  local data = f:read("*a")
  f:close()
  local n = 0
  for req in data:gmatch("[^%z]+") do
    if n % ${threads} == id - 1 then table.insert(pool, req) end
    n = n + 1
  end
end
function request()
  index = index + 1
  local req = pool[index]
  if req == nil then
    -- Out of single-use inputs: stop this thread (the loop ends after this pass) and send nothing,
    -- so that no input is used twice and the server sees no placeholder.
    exhausted = true
    wrk.thread:stop()
    return ""
  end
  return req
end
${COMMON}`;
}

export interface WrkResult {
  requests: number;
  durationUs: number;
  connect: number;
  read: number;
  write: number;
  timeout: number;
  latencyUs: { mean: number; p50: number; p90: number; p99: number; max: number };
  exhausted: boolean;
  statuses: Record<string, number>;
}

/** Reads the line `done()` printed. */
export function parseWrkOutput(stdout: string): RunResult {
  const line = stdout.split("\n").find((l) => l.startsWith("WRK_RESULT "));
  if (!line) throw new Error(`wrk printed no result:\n${stdout.slice(-2000)}`);
  const r = JSON.parse(line.slice("WRK_RESULT ".length)) as WrkResult;
  const ms = (us: number) => us / 1000;
  return {
    requests: r.requests,
    durationSeconds: r.durationUs / 1e6,
    errors: r.connect + r.read + r.write + r.timeout,
    timeouts: r.timeout,
    statusCodes: r.statuses,
    latencyMs: {
      average: ms(r.latencyUs.mean),
      p50: ms(r.latencyUs.p50),
      p90: ms(r.latencyUs.p90),
      p99: ms(r.latencyUs.p99),
      max: ms(r.latencyUs.max),
    },
    exhausted: r.exhausted,
  };
}

let running: ChildProcess | undefined;

/** Stops the wrk run in progress, if any. */
export function stopWrk(): void {
  running?.kill("SIGINT");
}

export interface WrkOptions {
  baseUrl: string;
  /** Whole seconds (wrk takes no fractions); at least 1. */
  seconds: number;
  connections: number;
  threads: number;
}

/** One wrk run of a fixed request, or of `pool` (each request sent once at most). */
export async function runWrk(load: { fixed: BenchRequest } | { pool: BenchRequest[] }, options: WrkOptions): Promise<RunResult> {
  const dir = await mkdtemp(path.join(tmpdir(), "eot-wrk-"));
  try {
    const scriptFile = path.join(dir, "script.lua");
    if ("fixed" in load) {
      await writeFile(scriptFile, fixedScript(load.fixed));
    } else {
      const host = new URL(options.baseUrl).host;
      const poolFile = path.join(dir, "pool.bin");
      await writeFile(poolFile, load.pool.map((r) => rawRequest(r, host)).join("\0"));
      await writeFile(scriptFile, poolScript(poolFile, options.threads));
    }
    const args = [
      "--threads", String(options.threads),
      "--connections", String(Math.max(options.connections, options.threads)),
      "--duration", `${Math.max(1, Math.round(options.seconds))}s`,
      "--timeout", "10s",
      "--script", scriptFile,
      options.baseUrl,
    ];
    const stdout = await new Promise<string>((resolve, reject) => {
      const child = spawn("wrk", args, { stdio: ["ignore", "pipe", "pipe"] });
      running = child;
      let out = "";
      let err = "";
      child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
      child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
      child.on("error", reject);
      child.on("close", (code, signal) =>
        code === 0 || signal === "SIGINT" ? resolve(out) : reject(new Error(`wrk exited with ${code ?? signal}:\n${err}${out}`)),
      );
    }).finally(() => {
      running = undefined;
    });
    return parseWrkOutput(stdout);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
