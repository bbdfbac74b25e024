import { env, SELF } from "cloudflare:test";
import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { createProvider } from "../../src/provider";
import { Browser, redirectParams } from "./support/browser";
import { basic, BASE, createClient, form, ISSUER, postToken, storageOps } from "./support/helpers";
import {
  CHALLENGE,
  exchangeCode,
  expectTokenError,
  expectTokens,
  newUser,
  PASSWORD,
  REDIRECT,
  refresh,
  signedIn,
  tokenRequest,
  VERIFIER,
  type ClientCredentials,
} from "./support/flow";
import { AppBrowser } from "./support/oidc-helpers";

/**
 * RFC 8707 resource indicators: `resource` at the authorization and token endpoints becomes the
 * access token's `aud`; a token request may narrow the authorized resources, never widen them;
 * unknown, malformed or unallowed resources get `invalid_target`. In the ready Worker the default
 * audience is the origin, so every resource on it is known and nothing else is.
 */

const API = `${BASE}/api`;
const MCP = `${BASE}/mcp`;
const FOREIGN = "https://evil.example/api";

const audOf = (token: string) => decodeJwt(token).aud;

/** An authorization URL whose `resource` parameter repeats once per value. */
function authorizeUrl(clientId: string, resources: string[], extra: Record<string, string> = {}): string {
  const query = new URLSearchParams({
    response_type: "code",
    client_id: clientId,
    redirect_uri: REDIRECT,
    scope: "read write",
    state: "st-res",
    code_challenge: CHALLENGE,
    code_challenge_method: "S256",
    ...extra,
  });
  for (const resource of resources) query.append("resource", resource);
  return `/o/authorize/?${query}`;
}

/** Every hidden field of a form, a repeated one once per value (the shared helper keeps one per name). */
function hiddenFieldList(html: string): [string, string][] {
  const decode = (text: string) =>
    text.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  return [...html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"\/?>/g)].map((m) => [decode(m[1]!), decode(m[2]!)]);
}

/** Approves a consent page, posting back every field it carries. */
function approve(browser: Browser, html: string): Promise<Response> {
  const body = new URLSearchParams([...hiddenFieldList(html), ["allow", "Authorize"]]);
  return browser.fetch("/o/authorize/", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", origin: BASE },
    body: body.toString(),
  });
}

/** A code for `resources` from a signed-in browser, through the consent page when one is shown. */
async function codeFor(browser: Browser, clientId: string, resources: string[]): Promise<string> {
  let res = await browser.get(authorizeUrl(clientId, resources));
  if (res.status === 200) res = await approve(browser, await res.text());
  expect(res.status, res.headers.get("location") ?? "").toBe(303);
  const params = redirectParams(res);
  expect(params.get("error"), params.get("error_description") ?? "").toBeNull();
  return params.get("code")!;
}

async function codeClient(extra: { resources?: string[]; clientType?: "public" | "confidential" } = {}): Promise<ClientCredentials> {
  const { clientId, clientSecret } = await createClient({
    grantTypes: ["authorization_code", "refresh_token"],
    redirectUris: [REDIRECT],
    skipAuthorization: true,
    ...extra,
  });
  return { clientId, clientSecret };
}

/** Tokens of a code flow for `resources`, with `extra` fields on the code exchange. */
async function codeTokens(client: ClientCredentials, resources: string[], exchange: [string, string][] = []) {
  const { browser } = await signedIn();
  const code = await codeFor(browser, client.clientId, resources);
  return expectTokens(await exchangeWith(client, code, exchange));
}

/** A token request whose fields may repeat (`resource`), authenticated like `tokenRequest`. */
function tokenWith(client: ClientCredentials, fields: [string, string][]): Promise<Response> {
  if (client.clientSecret) return postToken(new URLSearchParams(fields).toString(), { authorization: basic(client.clientId, client.clientSecret) });
  return postToken(new URLSearchParams([...fields, ["client_id", client.clientId]]).toString());
}

const exchangeWith = (client: ClientCredentials, code: string, extra: [string, string][] = []) =>
  tokenWith(client, [["grant_type", "authorization_code"], ["code", code], ["redirect_uri", REDIRECT], ["code_verifier", VERIFIER], ...extra]);

const refreshWith = (client: ClientCredentials, refreshToken: string, resources: string[]) =>
  tokenWith(client, [["grant_type", "refresh_token"], ["refresh_token", refreshToken], ...resources.map((r): [string, string] => ["resource", r])]);

function expectAuthorizeError(res: Response, error: string) {
  expect(res.status, res.headers.get("location") ?? "").toBe(303);
  const params = redirectParams(res);
  expect(`${params.location.origin}${params.location.pathname}`).toBe(REDIRECT);
  expect(params.get("error"), params.get("error_description") ?? "").toBe(error);
  expect(params.get("state")).toBe("st-res");
  expect(params.get("iss")).toBe(ISSUER);
  expect(params.get("code")).toBeNull();
}

describe("the authorization code flow", () => {
  it("one resource: the access token's aud is that resource, a string", async () => {
    const tokens = await codeTokens(await codeClient(), [API]);
    expect(audOf(tokens.access_token)).toBe(API);
  });

  it("two resources: aud names both; a request naming none keeps the default audience", async () => {
    const client = await codeClient();
    expect(audOf((await codeTokens(client, [API, MCP])).access_token)).toEqual([API, MCP]);
    expect(audOf((await codeTokens(client, [])).access_token)).toBe(BASE);
  });

  it("a resource sent twice counts once", async () => {
    const tokens = await codeTokens(await codeClient(), [API, API]);
    expect(audOf(tokens.access_token)).toBe(API);
  });

  it("the ID token's aud stays the client id", async () => {
    const client = await codeClient();
    const { browser } = await signedIn();
    const res = await browser.get(authorizeUrl(client.clientId, [API], { scope: "openid read", nonce: "n-1" }));
    const code = redirectParams(res).get("code")!;
    const tokens = (await expectTokens(await exchangeWith(client, code))) as { access_token: string; id_token?: string };
    expect(audOf(tokens.access_token)).toBe(API);
    expect(decodeJwt(tokens.id_token!).aud).toBe(client.clientId);
  });

  it("the token request may narrow to some of the authorized resources; the refresh token keeps them all", async () => {
    const client = await codeClient();
    const tokens = await codeTokens(client, [API, MCP], [["resource", MCP]]);
    expect(audOf(tokens.access_token)).toBe(MCP);
    const refreshed = await expectTokens(await refresh(client, tokens.refresh_token!));
    expect(audOf(refreshed.access_token)).toEqual([API, MCP]);
  });

  it("a token request for a resource the code was not for: invalid_target, and the code is not spent", async () => {
    const client = await codeClient();
    const { browser } = await signedIn();
    const code = await codeFor(browser, client.clientId, [API]);
    await expectTokenError(await exchangeWith(client, code, [["resource", MCP]]), "invalid_target");
    await expectTokenError(await exchangeWith(client, code, [["resource", API], ["resource", MCP]]), "invalid_target");
    const tokens = await expectTokens(await exchangeWith(client, code, [["resource", API]]));
    expect(audOf(tokens.access_token)).toBe(API);
  });

  it("a code whose request named no resource is only for the default audience", async () => {
    const client = await codeClient();
    const { browser } = await signedIn();
    const code = await codeFor(browser, client.clientId, []);
    await expectTokenError(await exchangeWith(client, code, [["resource", API]]), "invalid_target");
    const tokens = await expectTokens(await exchangeWith(client, code, [["resource", BASE]]));
    expect(audOf(tokens.access_token)).toBe(BASE);
  });

  it("implicit: the access token in the fragment is for the resource", async () => {
    const { clientId } = await createClient({ clientType: "public", grantTypes: ["implicit"], redirectUris: [REDIRECT], skipAuthorization: true });
    const { browser } = await signedIn();
    const query = new URLSearchParams({ response_type: "token", client_id: clientId, redirect_uri: REDIRECT, scope: "read", state: "s" });
    query.append("resource", API);
    const res = await browser.get(`/o/authorize/?${query}`);
    expect(audOf(redirectParams(res).get("access_token")!)).toBe(API);
  });
});

describe("invalid_target at the authorization endpoint, redirected to the client", () => {
  const cases: [string, string[]][] = [
    ["a resource this server does not serve", [FOREIGN]],
    ["one unknown among known ones", [API, FOREIGN]],
    ["a fragment", [`${API}#frag`]],
    ["a relative URI", ["/api"]],
    ["no URI at all", ["api"]],
    ["dot segments that would leave the origin's path", [`${BASE}/api/../admin`]],
    ["an upper-case host (not in normal form)", ["https://AUTH.example.com/api"]],
    ["credentials in the URI", ["https://user:pw@auth.example.com/api"]],
    ["another port of the same host", ["https://auth.example.com:8443/api"]],
    ["http instead of https", ["http://auth.example.com/api"]],
    ["more than ten resources", Array.from({ length: 11 }, (_, i) => `${API}/${i}`)],
  ];
  it.each(cases)("%s", async (_, resources) => {
    const client = await codeClient();
    expectAuthorizeError(await SELF.fetch(`${BASE}${authorizeUrl(client.clientId, resources)}`, { redirect: "manual" }), "invalid_target");
  });

  it("also for a signed-in user, before anything is issued", async () => {
    const client = await codeClient();
    const { browser } = await signedIn();
    expectAuthorizeError(await browser.get(authorizeUrl(client.clientId, [FOREIGN])), "invalid_target");
  });
});

describe("a client registered with resources", () => {
  const restricted = () => codeClient({ resources: [MCP] });

  it("may ask for them and what lies under them", async () => {
    const client = await restricted();
    expect(audOf((await codeTokens(client, [MCP])).access_token)).toBe(MCP);
    expect(audOf((await codeTokens(client, [`${MCP}/tools`])).access_token)).toBe(`${MCP}/tools`);
  });

  it("may not ask for another resource the server knows, nor for the default audience by naming none", async () => {
    const client = await restricted();
    for (const resources of [[API], [MCP, API], [`${BASE}/mcpx`], [BASE], []]) {
      expectAuthorizeError(await SELF.fetch(`${BASE}${authorizeUrl(client.clientId, resources)}`, { redirect: "manual" }), "invalid_target");
    }
  });

  it("client_credentials follows the same list", async () => {
    const { clientId, clientSecret } = await createClient({ resources: [MCP] });
    const client = { clientId, clientSecret };
    expect(audOf((await expectTokens(await tokenWith(client, [["grant_type", "client_credentials"], ["resource", MCP]]))).access_token)).toBe(MCP);
    await expectTokenError(await tokenWith(client, [["grant_type", "client_credentials"], ["resource", API]]), "invalid_target");
    await expectTokenError(await tokenWith(client, [["grant_type", "client_credentials"]]), "invalid_target");
  });
});

describe("refresh (RFC 8707 §2.2)", () => {
  it("narrows to a subset; widening is invalid_target and spends nothing; the next refresh still gets the full set", async () => {
    const client = await codeClient();
    const first = await codeTokens(client, [API, MCP]);

    const narrowed = await expectTokens(await refreshWith(client, first.refresh_token!, [API]));
    expect(audOf(narrowed.access_token)).toBe(API);

    const widened = await refreshWith(client, narrowed.refresh_token!, [API, `${BASE}/other`]);
    await expectTokenError(widened, "invalid_target");
    await expectTokenError(await refreshWith(client, narrowed.refresh_token!, [FOREIGN]), "invalid_target");
    await expectTokenError(await refreshWith(client, narrowed.refresh_token!, [`${API}#x`]), "invalid_target");

    // The refused requests rotated nothing: the same refresh token works, for every original resource.
    const full = await expectTokens(await refreshWith(client, narrowed.refresh_token!, []));
    expect(audOf(full.access_token)).toEqual([API, MCP]);
    const both = await expectTokens(await refreshWith(client, full.refresh_token!, [MCP, API]));
    expect(audOf(both.access_token)).toEqual([MCP, API]);
  });

  it("a grant for the default audience cannot be widened to a resource", async () => {
    const client = await codeClient();
    const first = await codeTokens(client, []);
    await expectTokenError(await refreshWith(client, first.refresh_token!, [API]), "invalid_target");
    const same = await expectTokens(await refreshWith(client, first.refresh_token!, [BASE]));
    expect(audOf(same.access_token)).toBe(BASE);
  });

  it("a public client's rotation checks resources in its one D1 round-trip", async () => {
    const client = await codeClient({ clientType: "public" });
    const first = await codeTokens(client, [API, MCP]);
    const res = await postToken(
      new URLSearchParams([["grant_type", "refresh_token"], ["refresh_token", first.refresh_token!], ["client_id", client.clientId], ["resource", MCP]]).toString(),
      { "x-storage-ops": "1" },
    );
    const body = await expectTokens(res);
    expect(audOf(body.access_token)).toBe(MCP);
    expect(storageOps(res).d1).toBe(1);
    await expectTokenError(await refreshWith(client, body.refresh_token!, [`${BASE}/other`]), "invalid_target");
    expect(audOf((await expectTokens(await refreshWith(client, body.refresh_token!, []))).access_token)).toEqual([API, MCP]);
  });

  it("without rotation (ROTATE_REFRESH_TOKEN=false) the same rules hold", async () => {
    const app = createProvider({ settings: { ROTATE_REFRESH_TOKEN: false } });
    const client = await codeClient();
    const { username } = await newUser();
    const browser = new AppBrowser(app);
    await browser.login(username, PASSWORD);
    let res = await browser.get(authorizeUrl(client.clientId, [API, MCP]));
    const code = redirectParams(res).get("code")!;
    const post = (fields: [string, string][]) =>
      app.request(`${BASE}/o/token/`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(client.clientId, client.clientSecret) },
        body: new URLSearchParams(fields).toString(),
      }, env);
    const tokens = await expectTokens(await post([["grant_type", "authorization_code"], ["code", code], ["redirect_uri", REDIRECT], ["code_verifier", VERIFIER]]));
    res = await post([["grant_type", "refresh_token"], ["refresh_token", tokens.refresh_token!], ["resource", FOREIGN]]);
    await expectTokenError(res, "invalid_target");
    const narrowed = await expectTokens(await post([["grant_type", "refresh_token"], ["refresh_token", tokens.refresh_token!], ["resource", API]]));
    expect(audOf(narrowed.access_token)).toBe(API);
    expect(narrowed.refresh_token).toBe(tokens.refresh_token);
  });
});

describe("client_credentials and password", () => {
  it("client_credentials: aud is the resources named, or the default audience", async () => {
    const { clientId, clientSecret } = await createClient();
    const client = { clientId, clientSecret };
    const cc = (resources: string[]) => tokenWith(client, [["grant_type", "client_credentials"], ...resources.map((r): [string, string] => ["resource", r])]);
    expect(audOf((await expectTokens(await cc([API]))).access_token)).toBe(API);
    expect(audOf((await expectTokens(await cc([API, MCP]))).access_token)).toEqual([API, MCP]);
    expect(audOf((await expectTokens(await cc([]))).access_token)).toBe(BASE);
    for (const bad of [[FOREIGN], ["/api"], [`${API}#f`], [`${BASE}/x/./y`]]) await expectTokenError(await cc(bad), "invalid_target");
  });

  it("password: aud is the resource, and its refresh token keeps it", async () => {
    const { clientId, clientSecret } = await createClient({ grantTypes: ["password", "refresh_token"] });
    const client = { clientId, clientSecret };
    const { username } = await newUser();
    const tokens = await expectTokens(
      await tokenWith(client, [["grant_type", "password"], ["username", username], ["password", PASSWORD], ["resource", MCP]]),
    );
    expect(audOf(tokens.access_token)).toBe(MCP);
    const refreshed = await expectTokens(await refresh(client, tokens.refresh_token!));
    expect(audOf(refreshed.access_token)).toBe(MCP);
    await expectTokenError(await refreshWith(client, refreshed.refresh_token!, [API]), "invalid_target");
  });

  it("introspection shows aud as the token carries it", async () => {
    const { clientId, clientSecret } = await createClient();
    const client = { clientId, clientSecret };
    const token = (await expectTokens(await tokenWith(client, [["grant_type", "client_credentials"], ["resource", API], ["resource", MCP]]))).access_token;
    const res = await SELF.fetch(`${BASE}/o/introspect/`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(clientId, clientSecret) },
      body: form({ token }),
    });
    expect(await res.json()).toMatchObject({ active: true, aud: [API, MCP] });
  });

  it("every other repeated parameter is still invalid_request", async () => {
    const { clientId, clientSecret } = await createClient();
    const res = await tokenWith({ clientId, clientSecret }, [["grant_type", "client_credentials"], ["scope", "read"], ["scope", "write"]]);
    await expectTokenError(res, "invalid_request");
  });
});

describe("the RESOURCES setting", () => {
  const ORDERS = "https://api.example.com/v1";
  const app = createProvider({ settings: { RESOURCES: [ORDERS, "urn:example:reports"] } });
  const cc = (client: ClientCredentials, resources: string[]) =>
    app.request(`${BASE}/o/token/`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(client.clientId, client.clientSecret) },
      body: new URLSearchParams([["grant_type", "client_credentials"], ...resources.map((r): [string, string] => ["resource", r])]).toString(),
    }, env);

  it("knows each entry and what lies under it at a / boundary, nothing else", async () => {
    const { clientId, clientSecret } = await createClient();
    const client = { clientId, clientSecret };
    for (const ok of [ORDERS, `${ORDERS}/`, `${ORDERS}/orders`, "urn:example:reports", API]) {
      expect(audOf((await expectTokens(await cc(client, [ok]))).access_token)).toBe(ok);
    }
    for (const bad of ["https://api.example.com/v10", "https://api.example.com/", "https://api.example.com/v1?x=1", "https://api.example.com/v1/../admin", "urn:example:reports:all", "https://other.example.com/v1"]) {
      await expectTokenError(await cc(client, [bad]), "invalid_target");
    }
  });

  it("a default audience that is no URI (ACCESS_TOKEN_AUDIENCE=my-api) is matched exactly, and a restricted client must name its resource", async () => {
    const named = createProvider({ settings: { ACCESS_TOKEN_AUDIENCE: "my-api", RESOURCES: [ORDERS] } });
    const request = (client: ClientCredentials, resources: string[]) =>
      named.request(`${BASE}/o/token/`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(client.clientId, client.clientSecret) },
        body: new URLSearchParams([["grant_type", "client_credentials"], ...resources.map((r): [string, string] => ["resource", r])]).toString(),
      }, env);
    const open = await createClient();
    expect(audOf((await expectTokens(await request(open, []))).access_token)).toBe("my-api");
    await expectTokenError(await request(open, [API]), "invalid_target");
    const restricted = await createClient({ resources: [ORDERS] });
    await expectTokenError(await request(restricted, []), "invalid_target");
    expect(audOf((await expectTokens(await request(restricted, [`${ORDERS}/x`]))).access_token)).toBe(`${ORDERS}/x`);
  });

  it("the ready Worker, without the setting, does not know them", async () => {
    const { clientId, clientSecret } = await createClient();
    await expectTokenError(await tokenWith({ clientId, clientSecret }, [["grant_type", "client_credentials"], ["resource", ORDERS]]), "invalid_target");
  });
});

describe("through the sign-in and consent forms", () => {
  it("every resource survives a sign-in in the middle of the flow and the consent page, which names them", async () => {
    const { clientId, clientSecret } = await createClient({ grantTypes: ["authorization_code"], redirectUris: [REDIRECT] });
    const { username } = await newUser();
    const browser = new Browser();
    const toLogin = await browser.get(authorizeUrl(clientId, [API, MCP]));
    expect(toLogin.status).toBe(303);
    const loginPage = await browser.get(toLogin.headers.get("location")!);
    const login = await browser.fetch("/o/login/", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: BASE },
      body: new URLSearchParams([...hiddenFieldList(await loginPage.text()), ["username", username], ["password", PASSWORD]]).toString(),
    });
    expect(login.status).toBe(303);
    const next = new URL(login.headers.get("location")!, BASE);
    expect(next.searchParams.getAll("resource")).toEqual([API, MCP]);

    const consent = await browser.get(login.headers.get("location")!);
    const html = await consent.text();
    expect(consent.status).toBe(200);
    expect(html).toContain(`<code>${API}</code>`);
    expect(html).toContain(`<code>${MCP}</code>`);
    expect(hiddenFieldList(html).filter(([name]) => name === "resource").map(([, value]) => value)).toEqual([API, MCP]);

    const decided = await approve(browser, html);
    const code = redirectParams(decided).get("code")!;
    const tokens = await expectTokens(await exchangeCode({ clientId, clientSecret }, code));
    expect(audOf(tokens.access_token)).toEqual([API, MCP]);
  });

  it("a consent form posted back without the extra resources grants fewer, never more", async () => {
    const { clientId, clientSecret } = await createClient({ grantTypes: ["authorization_code"], redirectUris: [REDIRECT] });
    const { browser } = await signedIn();
    const page = await browser.get(authorizeUrl(clientId, [API, MCP]));
    const fields = hiddenFieldList(await page.text());
    const firstOnly = fields.filter(([name], i) => name !== "resource" || fields.findIndex(([n]) => n === "resource") === i);
    const decided = await browser.fetch("/o/authorize/", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: BASE },
      body: new URLSearchParams([...firstOnly, ["allow", "Authorize"]]).toString(),
    });
    const code = redirectParams(decided).get("code")!;
    const tokens = await expectTokens(await tokenRequest({ clientId, clientSecret }, { grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: VERIFIER }));
    expect(audOf(tokens.access_token)).toBe(API);
  });
});

describe("the provider's own endpoints take only tokens for the default audience", () => {
  it("UserInfo refuses an openid token issued for a resource, and answers the same grant's token for the default audience", async () => {
    const client = await codeClient();
    const { browser } = await signedIn();
    let res = await browser.get(authorizeUrl(client.clientId, [API], { scope: "openid read" }));
    if (res.status === 200) res = await approve(browser, await res.text());
    const forApi = await expectTokens(await exchangeWith(client, redirectParams(res).get("code")!));
    const userinfo = (token: string) => SELF.fetch(`${BASE}/o/userinfo/`, { headers: { authorization: `Bearer ${token}` } });
    const refused = await userinfo(forApi.access_token);
    expect(refused.status).toBe(401);
    expect(refused.headers.get("www-authenticate")).toContain('error="invalid_token"');

    res = await browser.get(authorizeUrl(client.clientId, [], { scope: "openid read" }));
    if (res.status === 200) res = await approve(browser, await res.text());
    const forUs = await expectTokens(await exchangeWith(client, redirectParams(res).get("code")!));
    expect((await userinfo(forUs.access_token)).status).toBe(200);
  });
});

describe("an earlier consent covers the resources it named, no others", () => {
  it("approval_prompt=auto asks again for another resource, and prompt=none is consent_required; the same resource is answered", async () => {
    const { clientId, clientSecret } = await createClient({ grantTypes: ["authorization_code"], redirectUris: [REDIRECT] });
    const { browser } = await signedIn();
    const auto = { approval_prompt: "auto" };
    const first = await browser.get(authorizeUrl(clientId, [API], auto));
    expect(first.status).toBe(200);
    const approved = await approve(browser, await first.text());
    expect(redirectParams(approved).get("code")).toBeTruthy();

    const again = await browser.get(authorizeUrl(clientId, [API], auto));
    expect(again.status, "the approved resource is answered at once").toBe(303);
    expect(redirectParams(again).get("code")).toBeTruthy();

    const other = await browser.get(authorizeUrl(clientId, [MCP], auto));
    expect(other.status, "another resource needs the user").toBe(200);
    const otherPage = await other.text();
    expect(otherPage).toContain(MCP);
    expectAuthorizeError(await browser.get(authorizeUrl(clientId, [MCP], { prompt: "none" })), "consent_required");
    expectAuthorizeError(await browser.get(authorizeUrl(clientId, [API, MCP], { prompt: "none" })), "consent_required");

    // Once approved, both are covered, and a request naming none (the default audience) too.
    await approve(browser, otherPage);
    const both = await browser.get(authorizeUrl(clientId, [API, MCP], { prompt: "none" }));
    const code = redirectParams(both).get("code")!;
    expect(code).toBeTruthy();
    const tokens = await expectTokens(await exchangeWith({ clientId, clientSecret }, code));
    expect(audOf(tokens.access_token)).toEqual([API, MCP]);
    expect(redirectParams(await browser.get(authorizeUrl(clientId, [], { prompt: "none" }))).get("code")).toBeTruthy();
  });
});
