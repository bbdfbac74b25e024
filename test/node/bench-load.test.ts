import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseStorageOps, ratio, runInterleaved, summarize, type LoadGenerator } from "../../scripts/bench/load";
import { fixed, pool } from "../../scripts/bench/scenarios";
import type { Scenario } from "../../scripts/bench/types";
import { luaString, parseWrkOutput, rawRequest, wrkVersion, type RunResult } from "../../scripts/bench/wrk";

const run = (requests: number, seconds: number, p50: number, extra: Partial<RunResult> = {}): RunResult => ({
  requests,
  durationSeconds: seconds,
  errors: 0,
  timeouts: 0,
  statusCodes: { "200": requests },
  latencyMs: { average: p50, p50, p90: p50 * 2, p99: p50 * 4, max: p50 * 10 },
  exhausted: false,
  ...extra,
});

describe("bench: ratios and merged runs", () => {
  it("divides rates, and gives no ratio against nothing", () => {
    expect(ratio(500, 2000)).toBe(0.25);
    expect(ratio(500, 0)).toBeNull();
    expect(ratio(500, null)).toBeNull();
    expect(ratio(500, undefined)).toBeNull();
    expect(ratio(500, Number.NaN)).toBeNull();
  });

  it("merges slices: rate over the summed time, statuses added, percentiles weighted by requests", () => {
    const merged = summarize([run(300, 1, 1), run(100, 1, 5, { statusCodes: { "200": 99, "400": 1 }, errors: 2, exhausted: true })], "wrk");
    expect(merged.requests).toBe(400);
    expect(merged.requestsPerSecond).toBe(200);
    expect(merged.statusCodes).toEqual({ "200": 399, "400": 1 });
    expect(merged.errors).toBe(2);
    expect(merged.latencyMs.p50).toBe(2); // (300 * 1 + 100 * 5) / 400
    expect(merged.latencyMs.max).toBe(50);
    expect(merged.exhausted).toBe(true);
    expect(merged.generator).toBe("wrk");
  });
});

describe("bench: wrk scripts", () => {
  it("writes any string as a Lua literal with decimal escapes", () => {
    expect(luaString('a "b" \\ c')).toBe('"a \\034b\\034 \\092 c"');
    expect(luaString("é\n")).toBe('"\\195\\169\\010"');
  });

  it("builds raw requests with Host and Content-Length", () => {
    expect(rawRequest({ method: "POST", path: "/t", headers: { "x-a": "1" }, body: "é" }, "127.0.0.1:9")).toBe(
      "POST /t HTTP/1.1\r\nhost: 127.0.0.1:9\r\nx-a: 1\r\ncontent-length: 2\r\n\r\né",
    );
    expect(rawRequest({ path: "/h" }, "h:1")).toBe("GET /h HTTP/1.1\r\nhost: h:1\r\n\r\n");
  });

  it("reads the line the script prints, in milliseconds and seconds", () => {
    const out =
      'Running 1s test\nWRK_RESULT {"requests":10,"durationUs":2000000,"connect":1,"read":0,"write":0,"timeout":2,' +
      '"latencyUs":{"mean":1500.0,"p50":1000,"p90":2000,"p99":3000,"max":4000},"exhausted":false,"statuses":{"200":9,"500":1}}\n';
    expect(parseWrkOutput(out)).toEqual({
      requests: 10,
      durationSeconds: 2,
      errors: 3,
      timeouts: 2,
      statusCodes: { "200": 9, "500": 1 },
      latencyMs: { average: 1.5, p50: 1, p90: 2, p99: 3, max: 4 },
      exhausted: false,
    });
    expect(() => parseWrkOutput("no result")).toThrow(/no result/);
  });
});

describe("bench: interleaved load runs", () => {
  let server: Server;
  let baseUrl: string;
  const seen: { path: string; body: string }[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => (body += chunk.toString()));
      req.on("end", () => {
        seen.push({ path: req.url ?? "", body });
        res.statusCode = req.url === "/teapot" ? 418 : 200;
        res.end("ok");
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    baseUrl = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const scenario = (name: string): Scenario => ({ name, description: name, storageHeader: false });
  const generators: LoadGenerator[] = wrkVersion() ? ["autocannon", "wrk"] : ["autocannon"];

  it.each(generators)("%s: takes the parts in turn, counts statuses apart, sends each pooled request once", async (generator) => {
    await new Promise((resolve) => setTimeout(resolve, 200)); // the previous test's last answers
    seen.length = 0;
    // Enough for two 1 s slices at any speed of this server: the pool must not run out.
    const bodies = Array.from({ length: 100_000 }, (_, i) => `n=${i}`);
    const summaries = await runInterleaved(
      [
        { scenario: scenario("pooled"), source: pool(bodies, (body) => ({ method: "POST", path: "/pool", body })), baseUrl },
        { scenario: scenario("fixed"), source: fixed({ method: "GET", path: "/fixed" }), baseUrl },
        { scenario: scenario("teapot"), source: fixed({ method: "GET", path: "/teapot" }), baseUrl },
      ],
      { seconds: 2, connections: 4, generator },
    );
    expect(summaries.map((s) => s.generator)).toEqual([generator, generator, generator]);
    const [pooled, fixedRun, teapot] = summaries;
    expect(pooled!.requests).toBeGreaterThan(0);
    expect(pooled!.exhausted).toBe(false);
    expect(fixedRun!.statusCodes).toEqual({ "200": fixedRun!.requests });
    expect(teapot!.statusCodes).toEqual({ "418": teapot!.requests });
    // Two slices: /pool, /fixed, /teapot, then again; no path comes back before the others ran.
    const order = seen.map((s) => s.path).filter((p, i, all) => i === 0 || all[i - 1] !== p);
    expect(order).toEqual(["/pool", "/fixed", "/teapot", "/pool", "/fixed", "/teapot"]);
    const pooledBodies = seen.filter((s) => s.path === "/pool").map((s) => s.body);
    expect(new Set(pooledBodies).size).toBe(pooledBodies.length);
    const known = new Set(bodies);
    expect(pooledBodies.every((b) => known.has(b))).toBe(true);
  }, 30_000);

  it.skipIf(!wrkVersion())("wrk: stops when the pool runs out, without sending anything twice or in its place", async () => {
    await new Promise((resolve) => setTimeout(resolve, 200));
    seen.length = 0;
    const bodies = Array.from({ length: 60 }, (_, i) => `m=${i}`);
    const [summary] = await runInterleaved(
      [{ scenario: scenario("small pool"), source: pool(bodies, (body) => ({ method: "POST", path: "/small", body })), baseUrl }],
      { seconds: 1, connections: 4, generator: "wrk" },
    );
    expect(summary!.exhausted).toBe(true);
    expect(summary!.statusCodes).toEqual({ "200": summary!.requests });
    expect(seen.every((s) => s.path === "/small")).toBe(true);
    expect(new Set(seen.map((s) => s.body)).size).toBe(seen.length);
    expect(seen.length).toBeLessThanOrEqual(60);
  }, 30_000);
});

describe("X-Storage-Ops in the bench", () => {
  it("reads the primary/replica split when the Worker sends it, and does without it otherwise", () => {
    expect(parseStorageOps("d1=1, d1_statements=3, kv=0, d1_primary=0, d1_replica=1")).toEqual({ d1: 1, d1Statements: 3, kv: 0, d1Primary: 0, d1Replica: 1 });
    expect(parseStorageOps("d1=1, d1_statements=2, kv=0")).toEqual({ d1: 1, d1Statements: 2, kv: 0 });
  });
});
