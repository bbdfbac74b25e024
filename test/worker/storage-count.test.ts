import { env } from "cloudflare:test";
import type { Context } from "hono";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { countStorage, type StorageCountVariables } from "../../src/middleware/storage-count";
import { createProvider } from "../../src/provider";
import { basic, BASE, createClient, form } from "./support/helpers";

/** A route that tells what countStorage gave it, after one D1 query and one KV read. */
function probeApp() {
  const app = new Hono<{ Bindings: { DB: D1Database; KV: KVNamespace }; Variables: StorageCountVariables }>();
  app.use("*", countStorage());
  app.get("/", async (c) => {
    await c.get("d1").prepare("SELECT 1").first();
    await c.get("kv").get("storage-count-test");
    return c.json({ bindingsThemselves: c.get("d1") === c.env.DB && c.get("kv") === c.env.KV, counted: c.get("storage") !== undefined });
  });
  return app;
}

describe("countStorage", () => {
  it("without STORAGE_COUNT_HEADER hands the route the bindings themselves, counts nothing and adds no header", async () => {
    const res = await probeApp().request("/", {}, { DB: env.DB, KV: env.KV });
    expect(await res.json()).toEqual({ bindingsThemselves: true, counted: false });
    expect(res.headers.get("X-Storage-Ops")).toBeNull();
  });

  it("with STORAGE_COUNT_HEADER on counts the round-trips into X-Storage-Ops", async () => {
    const res = await probeApp().request("/", {}, { DB: env.DB, KV: env.KV, STORAGE_COUNT_HEADER: "true" });
    expect(await res.json()).toEqual({ bindingsThemselves: false, counted: true });
    expect(res.headers.get("X-Storage-Ops")).toMatch(/^d1=1, d1_statements=1, kv=1\b/);
  });
});

describe("the provider's per-request storage setup", () => {
  async function issueTwice(app: Hono<never> | ReturnType<typeof createProvider>, workerEnv: object) {
    const { clientId, clientSecret } = await createClient({ grantTypes: ["client_credentials"] });
    const responses: Response[] = [];
    for (let i = 0; i < 2; i++) {
      responses.push(
        await app.request(
          `${BASE}/o/token/`,
          {
            method: "POST",
            headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(clientId, clientSecret) },
            body: form({ grant_type: "client_credentials" }),
          },
          workerEnv,
        ),
      );
    }
    return responses;
  }

  it("reports X-Storage-Ops when its STORAGE_COUNT_HEADER setting is on, from the vars or from createProvider's settings", async () => {
    const fromVars = await issueTwice(createProvider(), { ...env, STORAGE_COUNT_HEADER: "true" });
    const fromOptions = await issueTwice(createProvider({ settings: { STORAGE_COUNT_HEADER: true } }), { ...env, STORAGE_COUNT_HEADER: "false" });
    for (const res of [...fromVars, ...fromOptions]) {
      expect(res.status).toBe(200);
      expect(res.headers.get("X-Storage-Ops")).toMatch(/^d1=\d+, d1_statements=\d+, kv=0\b/);
    }
  });

  it("with the setting off adds no header, and every request uses the same database object", async () => {
    const seen: unknown[] = [];
    const app = createProvider({ events: (_event, c: Context) => void seen.push(c.get("db")) });
    const responses = await issueTwice(app, { ...env, STORAGE_COUNT_HEADER: "false" });
    for (const res of responses) {
      expect(res.status).toBe(200);
      expect(res.headers.get("X-Storage-Ops")).toBeNull();
    }
    expect(seen).toHaveLength(2);
    expect(seen[0]).toBeDefined();
    expect(seen[1]).toBe(seen[0]);
  });
});
