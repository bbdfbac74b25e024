import { env, SELF } from "cloudflare:test";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { REQUEST_URI_PREFIX } from "../../src/authorization/pushed-request";
import { CLIENT_ASSERTION_TYPE } from "../../src/oauth/client-assertion";
import { createProvider } from "../../src/provider";
import { Browser, hiddenFields, redirectParams } from "./support/browser";
import { CHALLENGE, exchangeCode, expectTokens, isConsentPage, newUser, PASSWORD, REDIRECT, signedIn, unique } from "./support/flow";
import { basic, BASE, createClient, form, ISSUER } from "./support/helpers";

/**
 * Pushed authorization requests (RFC 9126): `/o/par/` checks and seals the request into a
 * `request_uri`; the authorization endpoint takes it (with `client_id`) once, within its lifetime.
 */

type Fields = Record<string, string>;

async function codeClient(overrides: Parameters<typeof createClient>[0] = {}) {
  return createClient({ grantTypes: ["authorization_code"], redirectUris: [REDIRECT], ...overrides });
}

const request = (clientId: string, extra: Fields = {}): Fields => ({
  response_type: "code",
  client_id: clientId,
  redirect_uri: REDIRECT,
  scope: "read",
  state: unique("st-"),
  code_challenge: CHALLENGE,
  code_challenge_method: "S256",
  ...extra,
});

function push(fields: Fields, headers: Fields = {}, path = "/o/par/"): Promise<Response> {
  return SELF.fetch(`${BASE}${path}`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", ...headers }, body: form(fields) });
}

async function pushed(client: { clientId: string; clientSecret: string }, extra: Fields = {}): Promise<{ request_uri: string; expires_in: number; state: string }> {
  const fields = request(client.clientId, extra);
  const res = await push(fields, { authorization: basic(client.clientId, client.clientSecret) });
  const text = await res.text();
  expect(res.status, text).toBe(201);
  expect(res.headers.get("cache-control")).toBe("no-store");
  return { ...(JSON.parse(text) as { request_uri: string; expires_in: number }), state: fields.state! };
}

const authorizeWith = (clientId: string, requestUri: string, extra: Fields = {}) =>
  `/o/authorize/?${new URLSearchParams({ client_id: clientId, request_uri: requestUri, ...extra })}`;

async function expectErrorPage(res: Response, error = "invalid_request_uri") {
  const html = await res.text();
  expect(res.status, html.slice(0, 300)).toBe(400);
  expect(res.headers.get("location")).toBeNull();
  expect(res.headers.get("content-type")).toMatch(/text\/html/);
  expect(html).toContain(error);
  return html;
}

async function expectJsonError(res: Response, error: string, status = 400) {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(res.headers.get("location")).toBeNull();
  const body = JSON.parse(text) as { error: string; error_description: string };
  expect(body.error).toBe(error);
  return body;
}

/** Consent page → approve → the redirect to the client. */
async function approve(browser: Browser, url: string): Promise<Response> {
  const page = await browser.get(url);
  const html = await page.text();
  expect(isConsentPage(page, html), `${page.status} ${html.slice(0, 200)}`).toBe(true);
  return browser.post("/o/authorize/", { ...hiddenFields(html), allow: "Authorize" });
}

describe("push, authorize, token (RFC 9126)", () => {
  it("a pushed request is answered with its own parameters; the ones sent to /authorize/ beside request_uri are ignored", async () => {
    const client = await codeClient();
    const { request_uri, expires_in, state } = await pushed(client);
    expect(request_uri.startsWith(REQUEST_URI_PREFIX)).toBe(true);
    expect(expires_in).toBe(60);

    const { browser } = await signedIn();
    const page = await browser.get(authorizeWith(client.clientId, request_uri, { scope: "write", state: "changed", redirect_uri: "https://evil.example/cb" }));
    const html = await page.text();
    expect(isConsentPage(page, html)).toBe(true);
    // The consent form carries the pushed request by reference, not its parameters.
    const hidden = hiddenFields(html);
    expect(hidden.client_id).toBe(client.clientId);
    expect(hidden.request_uri?.startsWith(REQUEST_URI_PREFIX)).toBe(true);
    expect(hidden.scope).toBeUndefined();
    const answer = await browser.post("/o/authorize/", { ...hidden, allow: "Authorize" });
    expect(answer.status).toBe(303);
    const out = redirectParams(answer);
    expect(out.location.origin + out.location.pathname).toBe(REDIRECT);
    expect(out.get("state")).toBe(state);
    expect(out.get("iss")).toBe(ISSUER);
    const tokens = await expectTokens(await exchangeCode(client, out.get("code")!));
    expect(tokens.scope).toBe("read");
  });

  it("a user not signed in signs in first: the sign-in page returns to the pushed request, by reference", async () => {
    const client = await codeClient();
    const { request_uri, state } = await pushed(client);
    const user = await newUser();
    const browser = new Browser();
    const toLogin = await browser.get(authorizeWith(client.clientId, request_uri));
    expect(toLogin.status).toBe(303);
    const loginPage = await browser.get(toLogin.headers.get("location")!);
    const fields = hiddenFields(await loginPage.text());
    expect(fields.next).toContain("request_uri=");
    expect(fields.next).not.toContain("code_challenge");
    const signedInRes = await browser.post("/o/login/", { ...fields, username: user.username, password: PASSWORD });
    expect(signedInRes.status).toBe(303);
    const answer = await approve(browser, signedInRes.headers.get("location")!);
    expect(answer.status).toBe(303);
    expect(redirectParams(answer).get("state")).toBe(state);
    await expectTokens(await exchangeCode(client, redirectParams(answer).get("code")!));
  });

  it("a denial is the pushed request's answer too (access_denied to the client)", async () => {
    const client = await codeClient();
    const { request_uri } = await pushed(client);
    const { browser } = await signedIn();
    const page = await browser.get(authorizeWith(client.clientId, request_uri));
    const denied = await browser.post("/o/authorize/", { ...hiddenFields(await page.text()) });
    expect(redirectParams(denied).get("error")).toBe("access_denied");
  });

  it("a private_key_jwt client pushes with an assertion for the PAR endpoint", async () => {
    const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
    const client = await codeClient({ tokenEndpointAuthMethod: "private_key_jwt", jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: "k" }] } });
    const assertion = await new SignJWT({ jti: crypto.randomUUID() })
      .setProtectedHeader({ alg: "ES256", kid: "k" })
      .setIssuer(client.clientId)
      .setSubject(client.clientId)
      .setAudience(`${ISSUER}/par/`)
      .setIssuedAt()
      .setExpirationTime("1m")
      .sign(privateKey);
    const res = await push({ ...request(client.clientId), client_assertion_type: CLIENT_ASSERTION_TYPE, client_assertion: assertion });
    expect(res.status, await res.clone().text()).toBe(201);
    const { request_uri } = await res.json<{ request_uri: string }>();
    // Client authentication is not part of the pushed request.
    expect(request_uri).not.toContain(assertion);
  });
});

describe("a request_uri is single use, short-lived, and only its client's", () => {
  it("reuse: once it gave its answer, the same request_uri gets an error page (consent, sign-in pages included)", async () => {
    const client = await codeClient();
    const { request_uri } = await pushed(client);
    const { browser } = await signedIn();
    const first = await approve(browser, authorizeWith(client.clientId, request_uri));
    expect(redirectParams(first).get("code")).toBeTruthy();
    // Shown again, the consent page issues nothing; its answer is refused on a page.
    const again = await browser.get(authorizeWith(client.clientId, request_uri));
    const html = await again.text();
    expect(isConsentPage(again, html)).toBe(true);
    await expectErrorPage(await browser.post("/o/authorize/", { ...hiddenFields(html), allow: "Authorize" }));
  });

  it("reuse under concurrency: a client that skips consent gets exactly one code", async () => {
    const client = await codeClient({ skipAuthorization: true });
    const { request_uri } = await pushed(client);
    const { browser } = await signedIn();
    const answers = await Promise.all(Array.from({ length: 5 }, () => browser.get(authorizeWith(client.clientId, request_uri))));
    const statuses = answers.map((res) => res.status).sort();
    expect(statuses).toEqual([303, 400, 400, 400, 400]);
    for (const res of answers.filter((r) => r.status === 400)) await expectErrorPage(res);
    await expectErrorPage(await browser.get(authorizeWith(client.clientId, request_uri)));
  });

  it("expiry: after PAR_EXPIRE_SECONDS the request_uri gets an error page, never a redirect", async () => {
    const app = createProvider({ settings: { PAR_EXPIRE_SECONDS: 1 } });
    const client = await codeClient();
    const res = await app.request(`${ISSUER}/par/`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(client.clientId, client.clientSecret) },
      body: form(request(client.clientId)),
    }, env);
    const { request_uri, expires_in } = await res.json<{ request_uri: string; expires_in: number }>();
    expect(expires_in).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const html = await expectErrorPage(await app.request(`${BASE}${authorizeWith(client.clientId, request_uri)}`, {}, env));
    expect(html).toContain("expired");
  });

  it("a forged or altered request_uri, or a missing client_id, get an error page; a request object's URL is request_uri_not_supported", async () => {
    const client = await codeClient();
    const { request_uri } = await pushed(client);
    const sealed = request_uri.slice(REQUEST_URI_PREFIX.length);
    const flipped = sealed.slice(0, 20) + (sealed[20] === "A" ? "B" : "A") + sealed.slice(21);
    await expectErrorPage(await SELF.fetch(`${BASE}${authorizeWith(client.clientId, REQUEST_URI_PREFIX + flipped)}`));
    await expectErrorPage(await SELF.fetch(`${BASE}${authorizeWith(client.clientId, `${REQUEST_URI_PREFIX}${"A".repeat(60)}`)}`));
    const byReference = await SELF.fetch(`${BASE}${authorizeWith(client.clientId, "https://client.example/request.jwt", { response_type: "code", redirect_uri: REDIRECT })}`, { redirect: "manual" });
    expect(redirectParams(byReference).get("error")).toBe("request_uri_not_supported");
    const noClient = await SELF.fetch(`${BASE}/o/authorize/?${new URLSearchParams({ request_uri })}`);
    await expectErrorPage(noClient, "invalid_request");
  });

  it("another client's request_uri gets an error page", async () => {
    const client = await codeClient();
    const other = await codeClient();
    const { request_uri } = await pushed(client);
    const html = await expectErrorPage(await SELF.fetch(`${BASE}${authorizeWith(other.clientId, request_uri)}`));
    expect(html).toContain("another client");
  });
});

describe("the push is checked as the authorization request is, and answered in JSON", () => {
  it("errors of the request are JSON (RFC 9126 §2.3), never redirects", async () => {
    const client = await codeClient();
    const auth = { authorization: basic(client.clientId, client.clientSecret) };
    await expectJsonError(await push(request(client.clientId, { redirect_uri: "https://evil.example/cb" }), auth), "invalid_request");
    const { response_type: _, ...noType } = request(client.clientId);
    await expectJsonError(await push(noType, auth), "invalid_request");
    await expectJsonError(await push(request(client.clientId, { response_type: "token" }), auth), "unauthorized_client");
    await expectJsonError(await push(request(client.clientId, { scope: "not-a-scope" }), auth), "invalid_scope");
    await expectJsonError(await push(request(client.clientId, { code_challenge_method: "plain" }), auth), "invalid_request");
    await expectJsonError(await push(request(client.clientId, { request_uri: `${REQUEST_URI_PREFIX}x` }), auth), "invalid_request");
    await expectJsonError(await push(request(client.clientId, { request: "eyJ.x.y" }), auth), "request_not_supported");
    const other = await codeClient();
    await expectJsonError(await push(request(other.clientId), auth), "invalid_request");
  });

  it("a public client pushes with client_id alone, and must use PKCE", async () => {
    const client = await codeClient({ clientType: "public" });
    const ok = await push(request(client.clientId));
    expect(ok.status).toBe(201);
    const { code_challenge: _, code_challenge_method: __, ...noPkce } = request(client.clientId);
    await expectJsonError(await push(noPkce), "invalid_request");
  });

  it("an unauthenticated push, or a wrong secret, is 401 invalid_client", async () => {
    const client = await codeClient();
    const none = await expectJsonError(await push(request(client.clientId)), "invalid_client", 401);
    expect(none.error_description).toBeTruthy();
    const wrong = await push(request(client.clientId), { authorization: basic(client.clientId, "wrong") });
    expect(wrong.headers.get("www-authenticate")).toMatch(/^Basic /);
    await expectJsonError(wrong, "invalid_client", 401);
  });

  it("answers POST only, with and without the trailing slash", async () => {
    const client = await codeClient();
    const res = await push(request(client.clientId), { authorization: basic(client.clientId, client.clientSecret) }, "/o/par");
    expect(res.status).toBe(201);
    const get = await SELF.fetch(`${BASE}/o/par/`);
    expect(get.status).toBe(405);
  });
});

describe("PAR required", () => {
  it("a client registered with require_pushed_authorization_requests: a plain request goes back as invalid_request; a pushed one works", async () => {
    const client = await codeClient({ requirePushedAuthorizationRequests: true });
    const { browser } = await signedIn();
    const plain = await browser.get(`/o/authorize/?${new URLSearchParams(request(client.clientId))}`);
    expect(plain.status).toBe(303);
    const out = redirectParams(plain);
    expect(out.get("error")).toBe("invalid_request");
    expect(out.get("error_description")).toContain("PAR");
    const { request_uri } = await pushed(client);
    const answer = await approve(browser, authorizeWith(client.clientId, request_uri));
    expect(redirectParams(answer).get("code")).toBeTruthy();
  });

  it("REQUIRE_PUSHED_AUTHORIZATION_REQUESTS: every client; an untrusted redirect URI still gets the error page; metadata says so", async () => {
    const app = createProvider({ settings: { REQUIRE_PUSHED_AUTHORIZATION_REQUESTS: true } });
    const client = await codeClient();
    const plain = await app.request(`${BASE}/o/authorize/?${new URLSearchParams(request(client.clientId))}`, {}, env);
    expect(plain.status).toBe(303);
    expect(redirectParams(plain).get("error")).toBe("invalid_request");
    const untrusted = await app.request(`${BASE}/o/authorize/?${new URLSearchParams(request(client.clientId, { redirect_uri: "https://evil.example/cb" }))}`, {}, env);
    await expectErrorPage(untrusted, "invalid_request");
    const metadata = await (await app.request(`${ISSUER}/.well-known/openid-configuration`, {}, env)).json<Record<string, unknown>>();
    expect(metadata.require_pushed_authorization_requests).toBe(true);
  });

  it("the metadata advertises the endpoint, not required by default", async () => {
    const metadata = await (await SELF.fetch(`${ISSUER}/.well-known/openid-configuration`)).json<Record<string, unknown>>();
    expect(metadata.pushed_authorization_request_endpoint).toBe(`${ISSUER}/par/`);
    expect(metadata.require_pushed_authorization_requests).toBe(false);
  });
});
