import { env, SELF } from "cloudflare:test";
import { Hono } from "hono";
import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import type { Account, AccountStore } from "../../src/session/accounts";
import type { ProviderEvent } from "../../src/core/events";
import { requireToken, type RequireTokenVariables } from "../../src/middleware/require-token";
import { createProvider } from "../../src/provider";
import { hiddenFields, redirectParams } from "./support/browser";
import { CHALLENGE, REDIRECT, VERIFIER } from "./support/flow";
import { basic, BASE, createClient, form, ISSUER, postToken } from "./support/helpers";
import { AppBrowser } from "./support/oidc-helpers";

/** A host's own user store: the provider never sees a password hash. */
const grace: Account = { id: "u-grace-hopper", username: "grace", credentialVersion: "v1", claims: { name: "Grace Hopper" } };
const hostAccounts: AccountStore = {
  authenticate: async (_db, username, password) => (username === "grace" && password === "cobol-1959" ? grace : null),
  findById: async (_db, id) => (id === grace.id ? grace : null),
};

function hostProvider(events: ProviderEvent[] = []) {
  return createProvider({
    accounts: hostAccounts,
    pages: {
      consent: (props) =>
        `<!doctype html><h1>Custom consent for ${props.client.name}</h1><p>${props.user.username}</p><form method="post" action="${props.action}">` +
        Object.entries(props.hidden).map(([k, v]) => `<input type="hidden" name="${k}" value="${v}"/>`).join("") +
        `<button name="allow" value="yes">OK</button></form>`,
    },
    events: (event) => {
      events.push(event);
    },
  });
}

const request = (app: Hono<never> | ReturnType<typeof createProvider>, path: string, body: Record<string, string>, headers: Record<string, string> = {}) =>
  app.request(`${BASE}${path}`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", ...headers }, body: form(body) }, env);

describe("createProvider extension points", () => {
  it("a host's own user store and consent page (DOT's CustomAuthorizationView)", async () => {
    const events: ProviderEvent[] = [];
    const app = hostProvider(events);
    const { clientId, clientSecret } = await createClient({ grantTypes: ["authorization_code", "refresh_token"], redirectUris: [REDIRECT] });
    const browser = new AppBrowser(app);
    const query = new URLSearchParams({ response_type: "code", client_id: clientId, redirect_uri: REDIRECT, scope: "openid read", code_challenge: CHALLENGE, code_challenge_method: "S256" });
    const toLogin = await browser.get(`/o/authorize/?${query}`);
    const loginPage = await browser.get(toLogin.headers.get("location")!);
    const wrong = await browser.post("/o/login/", { ...hiddenFields(await loginPage.text()), username: "grace", password: "fortran" });
    expect(wrong.status).toBe(400);
    const loginAgain = await browser.get(toLogin.headers.get("location")!);
    const loggedIn = await browser.post("/o/login/", { ...hiddenFields(await loginAgain.text()), username: "grace", password: "cobol-1959" });
    expect(loggedIn.status).toBe(303);
    const consent = await browser.get(loggedIn.headers.get("location")!);
    const html = await consent.text();
    expect(html).toContain("Custom consent for Test app");
    expect(html).toContain("grace");
    expect(consent.headers.get("x-frame-options")).toBe("DENY");
    const decided = await browser.post("/o/authorize/", { ...hiddenFields(html), allow: "yes" });
    const code = redirectParams(decided).get("code")!;

    const tokens = await request(app, "/o/token/", { grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: VERIFIER }, { authorization: basic(clientId, clientSecret) });
    expect(tokens.status).toBe(200);
    const body = await tokens.json<{ id_token: string; refresh_token: string }>();
    expect(decodeJwt(body.id_token).sub).toBe(grace.id);
    const refreshed = await request(app, "/o/token/", { grant_type: "refresh_token", refresh_token: body.refresh_token }, { authorization: basic(clientId, clientSecret) });
    expect(refreshed.status).toBe(200);

    expect(events.map((e) => e.type)).toEqual(["signin.failed", "signin.succeeded", "authorization.granted", "token.issued", "token.refreshed"]);
    expect(events[1]).toMatchObject({ userId: grace.id, username: "grace" });
    expect(events[2]).toMatchObject({ clientId, userId: grace.id, scope: ["openid", "read"] });
    expect(events[3]).toMatchObject({ grantType: "authorization_code", clientId, userId: grace.id });
  });

  it("events for client credentials, revocation and denial (DOT's signals)", async () => {
    const events: ProviderEvent[] = [];
    const app = hostProvider(events);
    const { clientId, clientSecret } = await createClient();
    const auth = { authorization: basic(clientId, clientSecret) };
    const issued = await (await request(app, "/o/token/", { grant_type: "client_credentials" }, auth)).json<{ access_token: string }>();
    await request(app, "/o/revoke_token/", { token: issued.access_token }, auth);
    await request(app, "/o/token/", { grant_type: "client_credentials", scope: "nope" }, auth);
    expect(events).toEqual([
      { type: "token.issued", grantType: "client_credentials", clientId, scope: "read write" },
      { type: "token.revoked", clientId, tokenType: "access_token" },
    ]);
  });

  it("a failing event hook never fails the request", async () => {
    const app = createProvider({ events: () => Promise.reject(new Error("audit log down")) });
    const { clientId, clientSecret } = await createClient();
    const res = await request(app, "/o/token/", { grant_type: "client_credentials" }, { authorization: basic(clientId, clientSecret) });
    expect(res.status).toBe(200);
  });
});

describe("requireToken in a separate resource-server Worker", () => {
  // The provider is reached through a service binding (here SELF); revocation notes through the shared KV.
  const api = new Hono<{ Bindings: { PROVIDER: Fetcher; KV: KVNamespace }; Variables: RequireTokenVariables }>();
  api.use("/orders/*", requireToken({ issuer: ISSUER, audience: BASE, jwksUrl: `${ISSUER}/.well-known/jwks.json`, service: "PROVIDER", anyScopes: ["read", "admin"] }));
  api.get("/orders/mine", (c) => c.json({ client: c.get("accessToken").client_id }));
  const call = (token: string) => api.request("/orders/mine", { headers: { authorization: `Bearer ${token}` } }, { PROVIDER: SELF, KV: env.KV });

  it("verifies tokens with the provider's JWKS and honours revocation", async () => {
    const { clientId, clientSecret } = await createClient({ scope: "read" });
    const auth = { authorization: basic(clientId, clientSecret) };
    const { access_token } = await (await postToken({ grant_type: "client_credentials" }, auth)).json<{ access_token: string }>();
    const ok = await call(access_token);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ client: clientId });

    await SELF.fetch(`${ISSUER}/revoke_token/`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", ...auth }, body: form({ token: access_token }) });
    const revoked = await call(access_token);
    expect(revoked.status).toBe(401);
    expect(revoked.headers.get("www-authenticate")).toContain('error="invalid_token"');
  });

  it("anyScopes: one of them is enough; none of them is 403 insufficient_scope", async () => {
    const writer = await createClient({ scope: "write" });
    const { access_token } = await (await postToken({ grant_type: "client_credentials" }, { authorization: basic(writer.clientId, writer.clientSecret) })).json<{ access_token: string }>();
    const res = await call(access_token);
    expect(res.status).toBe(403);
    expect(res.headers.get("www-authenticate")).toContain('scope="read admin"');
  });

  it("a token for another audience is refused", async () => {
    const strict = new Hono<{ Bindings: { PROVIDER: Fetcher; KV: KVNamespace } }>();
    strict.use("*", requireToken({ issuer: ISSUER, audience: "https://other-api.example", jwksUrl: `${ISSUER}/.well-known/jwks.json`, service: "PROVIDER" }));
    strict.get("/x", (c) => c.text("ok"));
    const { clientId, clientSecret } = await createClient();
    const { access_token } = await (await postToken({ grant_type: "client_credentials" }, { authorization: basic(clientId, clientSecret) })).json<{ access_token: string }>();
    const res = await strict.request("/x", { headers: { authorization: `Bearer ${access_token}` } }, { PROVIDER: SELF, KV: env.KV });
    expect(res.status).toBe(401);
  });
});
