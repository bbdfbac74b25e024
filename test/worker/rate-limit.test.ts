import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { hiddenFields } from "./support/browser";
import { newUser, PASSWORD } from "./support/flow";
import { basic, BASE, createClient, form, storageOps } from "./support/helpers";

/**
 * Per-address rate limits on the token, login and introspection endpoints (issue #8, item 7), with
 * the Workers Rate Limiting bindings declared in wrangler.toml (Miniflare counts them exactly, in
 * windows aligned to the clock). The limits below are the ones in wrangler.toml.
 */

const PERIOD_SECONDS = 60;
/** Long enough to wait for a fresh window and spend a limit. */
const TIMEOUT_MS = 90_000;

/** A request that does the endpoint's real work, from `address`: it must succeed. */
async function realRequest(path: string, address: string): Promise<Response> {
  const { clientId, clientSecret } = await createClient();
  const headers = {
    "content-type": "application/x-www-form-urlencoded",
    authorization: basic(clientId, clientSecret),
    "cf-connecting-ip": address,
  };
  if (path === "/o/token/") return SELF.fetch(`${BASE}${path}`, { method: "POST", headers, body: "grant_type=client_credentials" });
  if (path === "/o/introspect/") return SELF.fetch(`${BASE}${path}`, { method: "POST", headers, body: "token=not-a-token" });
  const { username } = await newUser("ratelimit");
  const page = await SELF.fetch(`${BASE}${path}`, { headers: { "cf-connecting-ip": address } });
  const cookie = page.headers
    .getSetCookie()
    .map((line) => line.split(";")[0])
    .join("; ");
  return SELF.fetch(`${BASE}${path}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", origin: BASE, cookie, "cf-connecting-ip": address },
    body: form({ ...hiddenFields(await page.text()), username, password: PASSWORD }),
  });
}

const ENDPOINTS = [
  { path: "/o/token/", limit: 600, json: true },
  { path: "/o/login/", limit: 60, json: false },
  { path: "/o/introspect/", limit: 1200, json: true },
] as const;

let nextAddress = 1;
const newAddress = () => {
  const n = nextAddress++;
  return `198.51.${n >> 8}.${n & 255}`;
};

/** A POST each endpoint refuses cheaply (no credentials, no fields): anything but 429 means "let through". */
const emptyPost = (path: string, address?: string, method = "POST") =>
  SELF.fetch(`${BASE}${path}`, {
    method,
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", ...(address ? { "cf-connecting-ip": address } : {}) },
    body: method === "POST" ? "" : undefined,
  });

/** Waits for a fresh window when the current one ends too soon for a run to fit in it. */
async function startOfWindow(neededSeconds: number): Promise<void> {
  const left = PERIOD_SECONDS * 1000 - (Date.now() % (PERIOD_SECONDS * 1000));
  if (left < neededSeconds * 1000) await new Promise((resolve) => setTimeout(resolve, left + 200));
}

/** Sends `count` POSTs from `address` in parallel batches; returns how many were let through. */
async function spend(path: string, address: string, count: number): Promise<number> {
  let allowed = 0;
  for (let sent = 0; sent < count; sent += 100) {
    const batch = await Promise.all(Array.from({ length: Math.min(100, count - sent) }, () => emptyPost(path, address)));
    allowed += batch.filter((res) => res.status !== 429).length;
    await Promise.all(batch.map((res) => res.body?.cancel()));
  }
  return allowed;
}

async function expectRefusal(res: Response, json: boolean) {
  expect(res.status).toBe(429);
  expect(res.headers.get("retry-after")).toBe(String(PERIOD_SECONDS));
  expect(res.headers.get("cache-control")).toBe("no-store");
  // Refused before any storage is touched.
  expect(storageOps(res)).toMatchObject({ d1: 0, kv: 0 });
  if (json) {
    const body = await res.json<{ error: string; error_description: string }>();
    expect(body.error).toBe("too_many_requests");
    expect(body.error_description).toMatch(/^[\x20\x21\x23-\x5b\x5d-\x7e]+$/);
  } else {
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(await res.text()).toContain("Too many requests");
  }
}

describe.each(ENDPOINTS)("rate limit on $path", ({ path, limit, json }) => {
  it(
    `lets ${limit} POSTs a minute through from one address, then answers 429 with Retry-After; other addresses go on`,
    async () => {
      await startOfWindow(20);
      const attacker = newAddress();
      expect(await spend(path, attacker, limit)).toBe(limit);
      await expectRefusal(await emptyPost(path, attacker), json);

      expect((await realRequest(path, newAddress())).status).toBe(200);
      // Requests with no client address (service bindings, these tests) are not rate limited.
      expect((await emptyPost(path)).status).not.toBe(429);
      // Only POSTs count: a CORS preflight or the login form's GET from the refused address still works.
      expect((await emptyPost(path, attacker, "OPTIONS")).status).not.toBe(429);
      if (path === "/o/login/") expect((await emptyPost(path, attacker, "GET")).status).toBe(200);
    },
    TIMEOUT_MS,
  );
});
