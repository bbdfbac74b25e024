import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { Hono } from "hono";
import { describe, expect, it, vi } from "vitest";
import { requireToken, type RequireTokenVariables } from "../../src/middleware/require-token";
import { createProvider, scheduledCleanup } from "../../src/provider";
import { hiddenFields } from "./support/browser";
import { basic, BASE, createClient, db, form } from "./support/helpers";
import { AppBrowser } from "./support/oidc-helpers";
import { refreshTokens } from "../../src/db/schema";

/** The test run's bindings under a host Worker's own names, and nothing under the default names. */
const renamedEnv = {
  AUTH_DB: env.DB,
  AUTH_KV: env.KV,
  AUTH_SIGNING_KEYS: env.SIGNING_KEYS,
  AUTH_SECRET: (env as unknown as { SECRET_KEY: string }).SECRET_KEY,
  ALLOWED_HOSTS: "auth.example.com",
};
const bindings = { database: "AUTH_DB", kv: "AUTH_KV", signingKeys: "AUTH_SIGNING_KEYS", secretKey: "AUTH_SECRET" };

function hostWorker() {
  const app = new Hono<{ Variables: RequireTokenVariables }>();
  app.get("/api/me", requireToken({ bindings }), (c) => c.json({ sub: c.get("accessToken").sub }));
  app.route("/", createProvider({ bindings }));
  return app;
}

const post = (app: Hono<never> | ReturnType<typeof hostWorker>, path: string, body: Record<string, string>, headers: Record<string, string>, workerEnv: object) =>
  app.request(`${BASE}${path}`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", ...headers }, body: form(body) }, workerEnv);

describe("createProvider({ bindings }): a host Worker's own binding and secret names", () => {
  it("issues, checks, introspects and revokes tokens with D1, KV and the signing keys under other names", async () => {
    const app = hostWorker();
    const { clientId, clientSecret } = await createClient({ grantTypes: ["client_credentials"] });
    const auth = { authorization: basic(clientId, clientSecret) };
    const issued = await post(app, "/o/token/", { grant_type: "client_credentials", scope: "read" }, auth, renamedEnv);
    expect(issued.status).toBe(200);
    const token = ((await issued.json()) as { access_token: string }).access_token;

    const api = () => app.request(`${BASE}/api/me`, { headers: { authorization: `Bearer ${token}` } }, renamedEnv);
    expect((await api()).status).toBe(200);
    const introspected = await post(app, "/o/introspect/", { token }, auth, renamedEnv);
    expect(await introspected.json()).toMatchObject({ active: true, client_id: clientId });

    expect((await post(app, "/o/revoke_token/", { token }, auth, renamedEnv)).status).toBe(200);
    // The revocation note went to the renamed KV namespace, where requireToken reads it.
    expect((await api()).status).toBe(401);
  });

  it("requireToken of the same Worker follows a provider mounted elsewhere with basePath", async () => {
    const app = new Hono<{ Variables: RequireTokenVariables }>();
    app.get("/api/me", requireToken({ basePath: "/auth", bindings }), (c) => c.json({ sub: c.get("accessToken").sub }));
    app.get("/api/default", requireToken({ bindings }), (c) => c.json({ sub: c.get("accessToken").sub }));
    app.route("/", createProvider({ basePath: "/auth", bindings }));
    const { clientId, clientSecret } = await createClient({ grantTypes: ["client_credentials"] });
    const issued = await post(app, "/auth/token", { grant_type: "client_credentials", scope: "read" }, { authorization: basic(clientId, clientSecret) }, renamedEnv);
    const token = ((await issued.json()) as { access_token: string }).access_token;
    const call = (path: string) => app.request(`${BASE}${path}`, { headers: { authorization: `Bearer ${token}` } }, renamedEnv);
    expect((await call("/api/me")).status).toBe(200);
    // Without basePath it expects the issuer at /o, and refuses this token.
    expect((await call("/api/default")).status).toBe(401);
  });

  it("signs users in with the secret key under its own name (CSRF token and session cookie)", async () => {
    const app = hostWorker();
    const browser = new AppBrowser(app, renamedEnv);
    const page = await browser.get("/o/login/");
    expect(page.status).toBe(200);
    const signedIn = await browser.post("/o/login/", { ...hiddenFields(await page.text()), username: "nobody", password: "wrong password" });
    // The CSRF check passed (the form's token was made with AUTH_SECRET); the credentials did not.
    expect(signedIn.status).toBe(400);
    expect(await signedIn.text()).not.toContain("CSRF");
  });

  it("a missing binding is a configuration error naming it in the log, and a bare server_error to callers", async () => {
    const app = hostWorker();
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      const { AUTH_KV: _kv, ...withoutKv } = renamedEnv;
      const res = await post(app, "/o/token/", { grant_type: "client_credentials" }, {}, withoutKv);
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual({ error: "server_error", error_description: "the server is misconfigured" });
      expect(JSON.stringify(logged.mock.calls)).toContain("Missing binding AUTH_KV");

      // The default names are not consulted when others are given.
      const defaults = await post(app, "/o/token/", { grant_type: "client_credentials" }, {}, { DB: env.DB, KV: env.KV, SIGNING_KEYS: env.SIGNING_KEYS, ALLOWED_HOSTS: "auth.example.com" });
      expect(defaults.status).toBe(500);
      expect(JSON.stringify(logged.mock.calls)).toContain("Missing binding AUTH_DB");
    } finally {
      logged.mockRestore();
    }
  });

  it("scheduledCleanup clears expired refresh tokens from the renamed database", async () => {
    const { clientId } = await createClient({ grantTypes: ["client_credentials"] });
    const id = crypto.randomUUID();
    const now = Math.floor(Date.now() / 1000);
    await db().insert(refreshTokens).values({ id, tokenHash: `hash-${id}`, grantId: `grant-${id}`, clientId, userId: "user-1", scope: "read", createdAt: now - 60, expiresAt: now - 1 });
    const ctx = createExecutionContext();
    const info = vi.spyOn(console, "log").mockImplementation(() => {});
    try {
      scheduledCleanup({ bindings })(createScheduledController({ cron: "17 * * * *" }), renamedEnv, ctx);
      await waitOnExecutionContext(ctx);
    } finally {
      info.mockRestore();
    }
    expect(await db().select().from(refreshTokens).where(eq(refreshTokens.id, id))).toEqual([]);
  });
});
