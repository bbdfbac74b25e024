import { createExecutionContext, env, SELF } from "cloudflare:test";
import { Hono } from "hono";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { requireToken } from "../../src/middleware/require-token";
import { createProvider } from "../../src/provider";
import { basic, BASE, createClient, form, ISSUER, postToken } from "./support/helpers";

/** A misconfigured server refuses (fail closed), tells callers only server_error, and tells the operator why. */

afterEach(() => {
  vi.restoreAllMocks();
});

const logged = () => vi.spyOn(console, "error").mockImplementation(() => {});

async function revokedToken() {
  const { clientId, clientSecret } = await createClient({ scope: "read" });
  const auth = { authorization: basic(clientId, clientSecret) };
  const { access_token } = await (await postToken({ grant_type: "client_credentials" }, auth)).json<{ access_token: string }>();
  const revoked = await SELF.fetch(`${ISSUER}/revoke_token/`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...auth },
    body: form({ token: access_token }),
  });
  expect(revoked.status).toBe(200);
  return access_token;
}

function protectedApp(options: Parameters<typeof requireToken>[0] = {}) {
  const app = new Hono<{ Bindings: Record<string, unknown> }>();
  app.get("/api/orders", requireToken({ scopes: ["read"], ...options }), (c) => c.text("orders"));
  return app;
}
const call = (app: Hono<{ Bindings: Record<string, unknown> }>, token: string, bindings: Record<string, unknown>) =>
  app.request(`${BASE}/api/orders`, { headers: { authorization: `Bearer ${token}` } }, bindings);

describe("requireToken without its KV binding", () => {
  it("refuses with 500 server_error instead of skipping revocation, and logs why", async () => {
    const token = await revokedToken();
    const log = logged();
    const res = await call(protectedApp(), token, { SIGNING_KEYS: env.SIGNING_KEYS });
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ error: "server_error", error_description: "the server is misconfigured" });
    expect(text).not.toMatch(/KV|revocation/);
    expect(log.mock.calls[0]?.[0]).toMatchObject({ message: "requireToken is misconfigured", detail: expect.stringMatching(/no KV binding "KV".*revocation: false/) });
  });

  it("a named binding that is missing is the same error", async () => {
    const token = await revokedToken();
    logged();
    const res = await call(protectedApp({ revocation: "REVOCATIONS" }), token, { SIGNING_KEYS: env.SIGNING_KEYS, KV: env.KV });
    expect(res.status).toBe(500);
  });

  it("revocation: false turns the check off explicitly; with the binding the revoked token is refused", async () => {
    const token = await revokedToken();
    expect((await call(protectedApp({ revocation: false }), token, { SIGNING_KEYS: env.SIGNING_KEYS })).status).toBe(200);
    const checked = await call(protectedApp(), token, { SIGNING_KEYS: env.SIGNING_KEYS, KV: env.KV });
    expect(checked.status).toBe(401);
    expect(checked.headers.get("www-authenticate")).toContain('error="invalid_token"');
  });
});

describe("a provider with invalid settings", () => {
  it("answers server_error without naming the setting, and logs it", async () => {
    const app = createProvider({ settings: { ACCESS_TOKEN_EXPIRE_SECONDS: 0 } });
    const log = logged();
    const res = await app.request(`${BASE}/o/token/`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: form({ grant_type: "client_credentials" }) }, env);
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ error: "server_error", error_description: "the server is misconfigured" });
    expect(text).not.toContain("ACCESS_TOKEN_EXPIRE_SECONDS");
    expect(JSON.stringify(log.mock.calls)).toContain("ACCESS_TOKEN_EXPIRE_SECONDS");
  });

  it("/healthz answers 503 naming the settings (not their values) to the operator, 200 ok otherwise", async () => {
    const healthz = (bindings: Record<string, unknown>) => worker.fetch(new Request(`${BASE}/healthz`), { ...env, ...bindings }, createExecutionContext());
    const bad = await healthz({ ACCESS_TOKEN_EXPIRE_SECONDS: "0", SCOPES: "not json" });
    expect(bad.status).toBe(503);
    expect(await bad.text()).toBe("settings invalid: ACCESS_TOKEN_EXPIRE_SECONDS, SCOPES");
    const good = await SELF.fetch(`${BASE}/healthz`);
    expect(good.status).toBe(200);
    expect(await good.text()).toBe("ok");
  });
});
