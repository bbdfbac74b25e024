import { env, SELF } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { forgetCachedClient } from "../../src/db/clients";
import { clients } from "../../src/db/schema";
import { isLocalOrPrivateHost } from "../../src/oauth/client-id-document";
import { createProvider } from "../../src/provider";
import { CONTROL_ORIGIN, type FetchRecord, type ScriptedDocument } from "../cimd-document-server";
import { hiddenFields, redirectParams } from "./support/browser";
import { authorizeUrl, CHALLENGE, expectTokenError, expectTokens, newUser, PASSWORD, REDIRECT, unique, VERIFIER } from "./support/flow";
import { BASE, basic, db, form, ISSUER } from "./support/helpers";
import { AppBrowser } from "./support/oidc-helpers";

/**
 * Client ID metadata documents (draft-ietf-oauth-client-id-metadata-document): a client_id that is
 * a URL is fetched, and its JSON document is the client. The documents are served by the fake
 * server of test/cimd-document-server.ts (Miniflare's outboundService), which the tests script
 * and ask how often each URL was fetched.
 */

const on = createProvider({ settings: { CLIENT_ID_METADATA_DOCUMENTS: true } });
const development = createProvider({ settings: { CLIENT_ID_METADATA_DOCUMENTS: true, CLIENT_ID_METADATA_PRIVATE_HOSTS: true } });
type App = typeof on;

/** A document URL on a host of its own, so that no two tests share a document. */
const documentUrl = () => `https://${unique("app-")}.cimd.test/oauth/client.json`;

async function serve(url: string, doc: ScriptedDocument): Promise<void> {
  const res = await fetch(`${CONTROL_ORIGIN}/documents?url=${encodeURIComponent(url)}`, { method: "PUT", body: JSON.stringify(doc) });
  expect(res.status).toBe(204);
}

async function fetchesOf(url: string): Promise<FetchRecord> {
  return (await fetch(`${CONTROL_ORIGIN}/documents?url=${encodeURIComponent(url)}`)).json<FetchRecord>();
}

const clientDocument = (url: string, extra: Record<string, unknown> = {}) => ({
  client_id: url,
  client_name: "Docs Agent",
  client_uri: "https://agent.example/",
  redirect_uris: [REDIRECT],
  grant_types: ["authorization_code", "refresh_token"],
  response_types: ["code"],
  token_endpoint_auth_method: "none",
  ...extra,
});

/** Serves a valid document for `url` (with `extra` members), and `options` for the response. */
const publish = (url: string, extra: Record<string, unknown> = {}, options: Partial<ScriptedDocument> = {}) =>
  serve(url, { body: JSON.stringify(clientDocument(url, extra)), ...options });

const codeRequest = (clientId: string, extra: Record<string, string> = {}) => ({
  response_type: "code",
  client_id: clientId,
  redirect_uri: REDIRECT,
  scope: "read",
  state: "st-cimd",
  code_challenge: CHALLENGE,
  code_challenge_method: "S256",
  ...extra,
});

const authorize = (app: App, params: Record<string, string>) =>
  app.request(`${BASE}${authorizeUrl(params)}`, { redirect: "manual" }, env);

const token = (app: App, fields: Record<string, string>, headers: Record<string, string> = {}) =>
  app.request(`${BASE}/o/token/`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", ...headers }, body: form(fields) }, env);

/** The client was accepted: an unauthenticated browser is sent to sign in. */
function expectAccepted(res: Response) {
  expect(res.status, res.headers.get("location") ?? "").toBe(303);
  expect(res.headers.get("location")).toContain("/o/login/");
}

/** The client was refused with an error page (never a redirect) that says `why`. */
async function expectErrorPage(res: Response, why: string | RegExp) {
  const html = await res.text();
  expect(res.status, html).toBe(400);
  expect(res.headers.get("location")).toBeNull();
  expect(res.headers.get("content-type")).toMatch(/^text\/html/);
  expect(html).toContain("invalid_request");
  if (typeof why === "string") expect(html).toContain(why);
  else expect(html).toMatch(why);
}

const storedRow = (url: string) => db().select().from(clients).where(eq(clients.id, url)).get();

/** Makes the stored copy of a document expire, as the passing of its max-age would. */
async function expire(url: string) {
  await db().update(clients).set({ metadataExpiresAt: Math.floor(Date.now() / 1000) - 1 }).where(eq(clients.id, url));
  forgetCachedClient(url);
}

async function signedInBrowser(app: App) {
  const { username } = await newUser("cimd");
  const browser = new AppBrowser(app);
  expect((await browser.login(username, PASSWORD)).status).toBe(200);
  return browser;
}

/** Signs in, approves the consent page, and returns the code and the consent page's HTML. */
async function approve(app: App, params: Record<string, string>) {
  const browser = await signedInBrowser(app);
  const page = await browser.get(authorizeUrl(params));
  const html = await page.text();
  expect(page.status, html).toBe(200);
  const answer = await browser.post("/o/authorize/", { ...hiddenFields(html), allow: "Authorize" });
  expect(answer.status).toBe(303);
  const out = redirectParams(answer);
  expect(out.get("error")).toBeNull();
  return { code: out.get("code")!, html, redirect: out.location };
}

describe("the setting and discovery", () => {
  it("discovery advertises client_id_metadata_document_supported only when CLIENT_ID_METADATA_DOCUMENTS is on", async () => {
    const off = await (await SELF.fetch(`${ISSUER}/.well-known/openid-configuration`)).json<Record<string, unknown>>();
    expect(off).not.toHaveProperty("client_id_metadata_document_supported");
    for (const path of ["/o/.well-known/openid-configuration", "/.well-known/oauth-authorization-server/o"]) {
      const meta = await (await on.request(`${BASE}${path}`, {}, env)).json<Record<string, unknown>>();
      expect(meta.client_id_metadata_document_supported).toBe(true);
      expect(meta.token_endpoint_auth_methods_supported).toContain("none");
    }
  });

  it("with the setting off, a URL client_id is an unknown client and nothing is fetched", async () => {
    const url = documentUrl();
    await publish(url);
    await expectErrorPage(await SELF.fetch(`${BASE}${authorizeUrl(codeRequest(url))}`, { redirect: "manual" }), "unknown client_id");
    await expectTokenError(await SELF.fetch(`${BASE}/o/token/`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: form({ grant_type: "authorization_code", code: "x", redirect_uri: REDIRECT, code_verifier: VERIFIER, client_id: url }),
    }), "invalid_client");
    expect((await fetchesOf(url)).count).toBe(0);
    expect(await storedRow(url)).toBeUndefined();
  });
});

describe("a valid document is the client", () => {
  it("the consent page names the document's host; the code flow with PKCE completes; the token's client_id is the URL", async () => {
    const url = documentUrl();
    await publish(url, { scope: "read write" }, { headers: { "cache-control": "public, max-age=600" } });
    const { code, html } = await approve(on, codeRequest(url));
    expect(html).toContain("Docs Agent");
    expect(html).toContain(`come from <strong>${new URL(url).host}</strong>`);

    const tokens = await expectTokens(await token(on, { grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: VERIFIER, client_id: url }));
    expect(decodeJwt(tokens.access_token).client_id).toBe(url);
    expect(tokens.scope).toBe("read");
    expect(tokens.refresh_token).toBeTruthy();
    const refreshed = await expectTokens(await token(on, { grant_type: "refresh_token", refresh_token: tokens.refresh_token!, client_id: url }));
    expect(decodeJwt(refreshed.access_token).client_id).toBe(url);

    // One GET with Accept: application/json; the token endpoint used the stored copy.
    expect(await fetchesOf(url)).toEqual({ count: 1, method: "GET", accept: "application/json" });
    const row = (await storedRow(url))!;
    expect(row).toMatchObject({
      source: "metadata_document",
      name: "Docs Agent",
      clientType: "public",
      tokenEndpointAuthMethod: "none",
      skipAuthorization: false,
      redirectUris: [REDIRECT],
      secretHash: null,
      metadata: { client_uri: "https://agent.example/" },
    });
  });

  it("a document client is public: a client secret at the token endpoint is invalid_client", async () => {
    const url = documentUrl();
    await publish(url);
    expectAccepted(await authorize(on, codeRequest(url)));
    const withSecret = await token(on, { grant_type: "authorization_code", code: "x", redirect_uri: REDIRECT, code_verifier: VERIFIER }, { authorization: basic(url, "a-guessed-secret") });
    await expectTokenError(withSecret, "invalid_client");
    await expectTokenError(await token(on, { grant_type: "client_credentials", client_id: url }), "unauthorized_client");
  });

  it("concurrent first requests for a document fetch it once", async () => {
    const url = documentUrl();
    await publish(url);
    const answers = await Promise.all(Array.from({ length: 5 }, () => authorize(on, codeRequest(url))));
    answers.forEach(expectAccepted);
    expect((await fetchesOf(url)).count).toBe(1);
  });
});

describe("caching: the stored copy is used while fresh, then the document is fetched again", () => {
  it("a second authorization within max-age does not fetch; after expiry the document is fetched again and the client updated", async () => {
    const url = documentUrl();
    await publish(url, {}, { headers: { "cache-control": "max-age=600" } });
    expectAccepted(await authorize(on, codeRequest(url)));
    forgetCachedClient(url); // another isolate: the row in D1 is still fresh
    expectAccepted(await authorize(on, codeRequest(url)));
    expect((await fetchesOf(url)).count).toBe(1);

    const renamed = "https://app.example.com/renamed";
    await publish(url, { client_name: "Renamed Agent", redirect_uris: [renamed] });
    await expire(url);
    expectAccepted(await authorize(on, codeRequest(url, { redirect_uri: renamed })));
    expect((await fetchesOf(url)).count).toBe(1);
    expect(await storedRow(url)).toMatchObject({ name: "Renamed Agent", redirectUris: [renamed] });
    // The withdrawn redirect URI no longer works.
    await expectErrorPage(await authorize(on, codeRequest(url)), "redirect_uri is not registered for this client");
  });

  it("the token endpoint fetches an expired document again too", async () => {
    const url = documentUrl();
    await publish(url);
    expectAccepted(await authorize(on, codeRequest(url)));
    await publish(url);
    await expire(url);
    await expectTokenError(await token(on, { grant_type: "authorization_code", code: "not-a-code", redirect_uri: REDIRECT, code_verifier: VERIFIER, client_id: url }), "invalid_grant");
    expect((await fetchesOf(url)).count).toBe(1);
  });

  it("an expired document that can no longer be fetched or validated refuses the client: stale metadata is not used", async () => {
    const url = documentUrl();
    await publish(url);
    expectAccepted(await authorize(on, codeRequest(url)));
    await serve(url, { status: 404, body: "gone" });
    await expire(url);
    await expectErrorPage(await authorize(on, codeRequest(url)), "answered HTTP 404");
    const refused = await expectTokenError(await token(on, { grant_type: "authorization_code", code: "x", redirect_uri: REDIRECT, code_verifier: VERIFIER, client_id: url }), "invalid_client");
    expect(refused.error_description).toContain("answered HTTP 404");

    await publish(url, { redirect_uris: "not a list" });
    await expectErrorPage(await authorize(on, codeRequest(url)), "redirect_uris must be an array of strings");
  });

  it("HTTP caching headers set when the document is fetched again, within 1 minute and 1 day", async () => {
    const now = () => Math.floor(Date.now() / 1000);
    const inAMoment = new Date(Date.now() + 300_000).toUTCString();
    const cases: [Record<string, string>, number][] = [
      [{ "cache-control": "max-age=120" }, 120],
      [{ "cache-control": "public, max-age=900", age: "300" }, 600],
      [{ "cache-control": "max-age=5" }, 60],
      [{ "cache-control": "max-age=999999999" }, 86_400],
      [{ "cache-control": "no-store" }, 60],
      [{ "cache-control": "no-cache, max-age=600" }, 60],
      [{ expires: inAMoment, date: new Date().toUTCString() }, 300],
      [{ expires: "0" }, 60],
      [{}, 3600],
    ];
    for (const [headers, seconds] of cases) {
      const url = documentUrl();
      await publish(url, {}, { headers });
      expectAccepted(await authorize(on, codeRequest(url)));
      const expiresIn = (await storedRow(url))!.metadataExpiresAt! - now();
      expect(Math.abs(expiresIn - seconds), JSON.stringify(headers)).toBeLessThanOrEqual(3);
    }
  });
});

describe("the fetch: limits, status, content type, redirects", () => {
  it("a document larger than 5 KiB is refused, whether or not Content-Length says so; one just under is accepted", async () => {
    const padded = (url: string, length: number) => {
      const base = JSON.stringify(clientDocument(url, { software_id: "" }));
      return JSON.stringify(clientDocument(url, { software_id: "x".repeat(length - base.length) }));
    };
    for (const streamed of [false, true]) {
      const big = documentUrl();
      await serve(big, { body: padded(big, 5 * 1024 + 1), streamed });
      await expectErrorPage(await authorize(on, codeRequest(big)), "larger than 5120 bytes");
      const fits = documentUrl();
      await serve(fits, { body: padded(fits, 5 * 1024), streamed });
      expectAccepted(await authorize(on, codeRequest(fits)));
    }
  });

  it("a server slower than 5 seconds is given up on", { timeout: 20_000 }, async () => {
    const url = documentUrl();
    await publish(url, {}, { delayMs: 7_000 });
    const started = Date.now();
    await expectErrorPage(await authorize(on, codeRequest(url)), "took longer than 5 seconds");
    expect(Date.now() - started).toBeLessThan(6_500);
  });

  it("a document not served as application/json is refused; parameters of the media type are fine", async () => {
    for (const contentType of ["text/html", "text/plain", "application/jsonp", null]) {
      const url = documentUrl();
      await publish(url, {}, { contentType });
      await expectErrorPage(await authorize(on, codeRequest(url)), "must be served as application/json");
    }
    const url = documentUrl();
    await publish(url, {}, { contentType: "Application/JSON; charset=utf-8" });
    expectAccepted(await authorize(on, codeRequest(url)));
  });

  it("any status but 200 is refused", async () => {
    for (const status of [201, 203, 404, 410, 500, 503]) {
      const url = documentUrl();
      await publish(url, {}, { status });
      await expectErrorPage(await authorize(on, codeRequest(url)), `answered HTTP ${status}`);
    }
  });

  it("redirects are not followed, not even to the same host", async () => {
    for (const status of [301, 302, 303, 307, 308]) {
      const url = documentUrl();
      const target = url.replace("client.json", "moved.json");
      await serve(url, { status, body: "", headers: { location: target } });
      await publish(target, { client_id: target });
      await expectErrorPage(await authorize(on, codeRequest(url)), "redirects are not followed");
      expect((await fetchesOf(target)).count).toBe(0);
    }
  });

  it("a body that is not a JSON object is refused", async () => {
    const bodies: [string, string][] = [
      ["not json at all", "not valid JSON"],
      ["[1, 2]", "must be a JSON object"],
      ['"https://x.cimd.test/c.json"', "must be a JSON object"],
      ["", "not valid JSON"],
    ];
    for (const [body, why] of bodies) {
      const url = documentUrl();
      await serve(url, { body });
      await expectErrorPage(await authorize(on, codeRequest(url)), why);
    }
  });
});

describe("the document", () => {
  it("its client_id must be exactly the URL it was fetched from", async () => {
    const url = documentUrl();
    for (const claimed of [url.replace("client.json", "other.json"), url.toUpperCase(), `${url}/`, `${url}?`, undefined]) {
      await publish(url, { client_id: claimed });
      forgetCachedClient(url);
      await expectErrorPage(await authorize(on, codeRequest(url)), "is not the URL it was fetched from");
    }
    expect(await storedRow(url)).toBeUndefined();
  });

  it("the redirect URI used must be one the document lists", async () => {
    const url = documentUrl();
    await publish(url);
    for (const redirect of ["https://attacker.example/callback", `${REDIRECT}/`, `${REDIRECT}?x=1`, "https://APP.example.com/callback"]) {
      await expectErrorPage(await authorize(on, codeRequest(url, { redirect_uri: redirect })), "redirect_uri is not registered for this client");
    }
  });

  it("a document client has no secret: other token_endpoint_auth_methods and client_secret members are refused", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ token_endpoint_auth_method: "client_secret_basic" }, "token_endpoint_auth_method must be none"],
      [{ token_endpoint_auth_method: "client_secret_post" }, "token_endpoint_auth_method must be none"],
      [{ token_endpoint_auth_method: "private_key_jwt" }, "token_endpoint_auth_method must be none"],
      [{ client_secret: "shh" }, "must not contain a client secret"],
      [{ client_secret_expires_at: 0 }, "must not contain a client secret"],
      [{ grant_types: ["client_credentials"], response_types: [] }, "client_credentials needs a client secret"],
      [{ grant_types: ["authorization_code", "password"] }, "grant_types may contain"],
      [{ redirect_uris: ["http://app.example.com/callback"] }, "redirect URIs must use https"],
      [{ software_statement: "eyJ.e30." }, "software statements are not accepted"],
    ];
    for (const [extra, why] of cases) {
      const url = documentUrl();
      await publish(url, extra);
      await expectErrorPage(await authorize(on, codeRequest(url)), why);
      expect(await storedRow(url)).toBeUndefined();
    }
  });
});

describe("the client_id URL (draft section 3) and private hosts", () => {
  it("URLs that break the rules are refused before anything is fetched", async () => {
    const host = `${unique("rules-")}.cimd.test`;
    const cases: [string, string][] = [
      [`https://${host}/c.json#frag`, "must not have a fragment"],
      [`https://${host}/c.json#`, "must not have a fragment"],
      [`https://${host}/c.json?v=1`, "must not have a query string"],
      [`https://${host}/c.json?`, "must not have a query string"],
      [`https://${host}`, "must have a path"],
      [`https://${host}/`, "must have a path"],
      [`https://user:pw@${host}/c.json`, "must not contain a username or password"],
      [`https://user@${host}/c.json`, "must not contain a username or password"],
      [`https://${host}/a/../c.json`, "must not contain . or .. path segments"],
      [`https://${host}/./c.json`, "must not contain . or .. path segments"],
      [`https://${host}/a/%2e%2E/c.json`, "must not contain . or .. path segments"],
      [`https://${host}/a/.%2e`, "must not contain . or .. path segments"],
      [`http://${host}/c.json`, "must use https"],
      [`HTTPS://${host}/c.json`, "written in normal form"],
      [`https://${host.toUpperCase()}/c.json`, "written in normal form"],
      [`https://${host}:443/c.json`, "written in normal form"],
      [`https://${host}/%63.json`, "written in normal form"],
      [`https://${host}/a%2fb.json`, "written in normal form"],
      ["https://", "not a valid URL"],
    ];
    for (const [url, why] of cases) {
      await expectErrorPage(await authorize(on, codeRequest(url)), why);
    }
    // The fake server saw none of them (each would have counted under its normalized URL).
    expect((await fetchesOf(`https://${host}/c.json`)).count).toBe(0);
  });

  it("a client_id URL may have at most 255 characters", async () => {
    const ofLength = (length: number) => {
      const start = `https://${unique("long-")}.cimd.test/`;
      return `${start}${"a".repeat(length - start.length - ".json".length)}.json`;
    };
    const longest = ofLength(255);
    await publish(longest);
    expectAccepted(await authorize(on, codeRequest(longest)));
    const tooLong = ofLength(256);
    await publish(tooLong);
    await expectErrorPage(await authorize(on, codeRequest(tooLong)), "at most 255 characters");
    expect((await fetchesOf(tooLong)).count).toBe(0);
  });

  it("loopback, private, link-local and local hosts are refused unless CLIENT_ID_METADATA_PRIVATE_HOSTS", async () => {
    const hosts = [
      "127.0.0.1",
      "127.1.2.3:8443",
      "10.1.2.3",
      "172.16.5.4",
      "172.31.255.255",
      "192.168.1.1",
      "169.254.169.254",
      "100.64.0.1",
      "0.0.0.0",
      "224.0.0.1",
      "[::1]",
      "[::]",
      "[fd00::1]",
      "[fe80::1]",
      "[::ffff:7f00:1]",
      "[::ffff:a9fe:a9fe]",
      "[64:ff9b::a00:1]",
      "[2002:c0a8:101::1]",
      "localhost",
      "localhost.",
      "api.localhost",
      "printer.local",
      "metadata.google.internal",
      "router.home.arpa",
      "intranet",
    ];
    for (const host of hosts) {
      const url = `https://${host}/oauth/client.json`;
      expect(new URL(url).href, host).toBe(url);
      await expectErrorPage(await authorize(on, codeRequest(url)), "must name a public host");
    }
    // The neighbours of those ranges are public (checked without fetching anything from them).
    for (const host of ["172.32.0.1", "11.0.0.1", "100.128.0.1", "169.255.0.1", "[2606:4700::1111]", "[::ffff:808:808]", "[2002:808:808::1]", "docs.cimd.test"]) {
      expect(isLocalOrPrivateHost(host), host).toBe(false);
    }
  });

  it("with CLIENT_ID_METADATA_PRIVATE_HOSTS (development), an http document on a loopback address works, with a loopback redirect URI", async () => {
    const url = `http://127.0.0.1:1/${unique("mcp-")}/client.json`;
    const callback = "http://127.0.0.1:33418/callback";
    await publish(url, { redirect_uris: [callback], scope: "read" });
    await expectErrorPage(await authorize(on, codeRequest(url, { redirect_uri: callback })), "must use https");

    const { code, redirect } = await approve(development, codeRequest(url, { redirect_uri: callback }));
    expect(redirect.origin).toBe("http://127.0.0.1:33418");
    const tokens = await expectTokens(await token(development, { grant_type: "authorization_code", code, redirect_uri: callback, code_verifier: VERIFIER, client_id: url }));
    expect(decodeJwt(tokens.access_token).client_id).toBe(url);
    expect(await storedRow(url)).toMatchObject({ applicationType: "native", source: "metadata_document" });

    // The redirect URIs keep the usual rule even then: http only on a loopback address.
    const lan = `http://127.0.0.1:1/${unique("lan-")}/client.json`;
    await publish(lan, { redirect_uris: ["http://192.168.1.5/callback"] });
    await expectErrorPage(await authorize(development, codeRequest(lan, { redirect_uri: "http://192.168.1.5/callback" })), "redirect URIs must use https, or http on a loopback address");
  });
});
