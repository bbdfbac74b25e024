import { env } from "cloudflare:test";
import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { refreshTokens } from "../../src/db/schema";
import type { ProviderEvent } from "../../src/core/events";
import { createProvider } from "../../src/provider";
import { Browser, hiddenFields, redirectParams } from "./support/browser";
import { basic, BASE, db, form, ISSUER } from "./support/helpers";
import { authorizeUrl, exchangeCode, expectTokenError, expectTokens, refresh, REDIRECT, VERIFIER } from "./support/flow";
import { AppBrowser, expectOidcTokens, oidcClient, oidcRequest, signedInOidc, signWithServerKey, unsignedJwt, userinfo } from "./support/oidc-helpers";

/** OpenID Connect RP-Initiated Logout 1.0 at `/o/logout/`. */

const BYE = "https://app.example.com/signed-out";
const BYE_WITH_QUERY = "https://app.example.com/bye?from=op";
const SESSION = "__Host-eot_session";

function logoutClient(name = "Acme Portal") {
  return oidcClient({ name, postLogoutRedirectUris: [BYE, BYE_WITH_QUERY] });
}

const logoutUrl = (params: Record<string, string>) => `/o/logout/?${new URLSearchParams(params)}`;

async function idTokenFor(browser: Browser, clientId: string): Promise<string> {
  const params = redirectParams(await browser.get(authorizeUrl(oidcRequest(clientId, { response_type: "id_token" }))));
  return params.get("id_token")!;
}

/** A signed-in browser, a client with post-logout URIs, and an ID token of that user for it. */
async function setup() {
  const client = await logoutClient();
  const user = await signedInOidc();
  return { client, ...user, idToken: await idTokenFor(user.browser, client.clientId) };
}

/** Whether the browser is still signed in: prompt=none gets a code rather than login_required. */
async function isSignedIn(browser: Browser, clientId: string): Promise<boolean> {
  const params = redirectParams(await browser.get(authorizeUrl(oidcRequest(clientId, { prompt: "none" }))));
  if (params.get("error") === "login_required") return false;
  expect(params.get("code")).toBeTruthy();
  return true;
}

async function confirmPage(browser: Browser, params: Record<string, string>) {
  const res = await browser.get(logoutUrl(params));
  const html = await res.text();
  expect(res.status, html).toBe(200);
  return { res, html, fields: hiddenFields(html) };
}

/** The confirm form's decision, as the Sign out button sends it. */
const confirm = (browser: Browser, fields: Record<string, string>) => browser.post("/o/logout/", { ...fields, logout: "yes" });

async function expectErrorPage(res: Response) {
  const html = await res.text();
  expect(res.status, html).toBe(400);
  expect(res.headers.get("location")).toBeNull();
  expect(res.headers.get("content-type")).toMatch(/^text\/html/);
  expect(html).toContain("invalid_request");
  return html;
}

describe("confirming and signing out", () => {
  it("GET: a confirm page naming the client, carrying the request; nobody is signed out by it", async () => {
    const { client, browser, idToken, username } = await setup();
    const { res, html, fields } = await confirmPage(browser, { id_token_hint: idToken, post_logout_redirect_uri: BYE, state: "xyz" });
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(html).toContain("Sign out of Acme Portal?");
    expect(html).toContain(username);
    expect(fields).toMatchObject({ id_token_hint: idToken, post_logout_redirect_uri: BYE, state: "xyz" });
    expect(fields.csrfmiddlewaretoken).toBeTruthy();
    expect(res.headers.getSetCookie().some((line) => line.startsWith(`${SESSION}=`))).toBe(false);
    expect(await isSignedIn(browser, client.clientId)).toBe(true);
  });

  it("the confirm POST ends the session and redirects 303 to the registered URI with state", async () => {
    const { client, browser, idToken } = await setup();
    const { fields } = await confirmPage(browser, { id_token_hint: idToken, post_logout_redirect_uri: BYE, state: "a b&c" });
    const res = await confirm(browser, fields);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`${BYE}?state=a+b%26c`);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(browser.cookies.has(SESSION)).toBe(false);
    expect(await isSignedIn(browser, client.clientId)).toBe(false);
  });

  it("keeps the registered URI's own query and appends state; no state, no query added", async () => {
    const { browser, idToken } = await setup();
    const withQuery = await confirm(browser, (await confirmPage(browser, { id_token_hint: idToken, post_logout_redirect_uri: BYE_WITH_QUERY, state: "s1" })).fields);
    expect(withQuery.headers.get("location")).toBe(`${BYE_WITH_QUERY}&state=s1`);

    const again = await setup();
    const noState = await confirm(again.browser, (await confirmPage(again.browser, { id_token_hint: again.idToken, post_logout_redirect_uri: BYE })).fields);
    expect(noState.headers.get("location")).toBe(BYE);
  });

  it("client_id identifies the client as well as id_token_hint does, alone or agreeing with it", async () => {
    for (const withHint of [false, true]) {
      const { client, browser, idToken } = await setup();
      const params: Record<string, string> = { client_id: client.clientId, post_logout_redirect_uri: BYE, state: "s" };
      if (withHint) params.id_token_hint = idToken;
      const { html, fields } = await confirmPage(browser, params);
      expect(html).toContain("Acme Portal");
      const res = await confirm(browser, fields);
      expect(res.headers.get("location"), `withHint=${withHint}`).toBe(`${BYE}?state=s`);
    }
  });

  it("an expired ID token is a valid hint (only signature and issuer count)", async () => {
    const { client, browser, id } = await setup();
    const long = Math.floor(Date.now() / 1000) - 90 * 24 * 3600;
    const hint = await signWithServerKey({ iss: ISSUER, sub: id, aud: client.clientId, iat: long, exp: long + 3600 });
    const res = await confirm(browser, (await confirmPage(browser, { id_token_hint: hint, post_logout_redirect_uri: BYE })).fields);
    expect(res.headers.get("location")).toBe(BYE);
  });

  it("without a redirect URI: the Signed out page", async () => {
    const { client, browser, idToken } = await setup();
    const res = await confirm(browser, (await confirmPage(browser, { id_token_hint: idToken })).fields);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("Signed out");
    expect(await isSignedIn(browser, client.clientId)).toBe(false);
  });

  it("without any parameter (the user's own sign-out): the confirm page, then Signed out", async () => {
    const { client, browser } = await setup();
    const { html, fields } = await confirmPage(browser, {});
    expect(html).toContain("Sign out?");
    const res = await confirm(browser, fields);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("Signed out");
    expect(await isSignedIn(browser, client.clientId)).toBe(false);
  });

  it("not signed in: the redirect is still honoured after the confirm POST (the RP needs it)", async () => {
    const { idToken } = await setup();
    const stranger = new Browser();
    const { html, fields } = await confirmPage(stranger, { id_token_hint: idToken, post_logout_redirect_uri: BYE, state: "s" });
    expect(html).toContain("You are not signed in");
    const res = await confirm(stranger, fields);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`${BYE}?state=s`);
  });

  it("a logout request POSTed by the RP (no CSRF token) gets the confirm page; nobody is signed out", async () => {
    const { client, browser, idToken } = await setup();
    const res = await browser.fetch("/o/logout/", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: "https://app.example.com" },
      body: form({ id_token_hint: idToken, post_logout_redirect_uri: BYE, state: "p" }),
    });
    const html = await res.text();
    expect(res.status).toBe(200);
    expect(html).toContain("Sign out of Acme Portal?");
    expect(hiddenFields(html)).toMatchObject({ post_logout_redirect_uri: BYE, state: "p" });
    expect(await isSignedIn(browser, client.clientId)).toBe(true);
    expect(redirectParams(await confirm(browser, hiddenFields(html))).location.toString()).toBe(`${BYE}?state=p`);
  });

  it("ui_locales and logout_hint are accepted (and ignored)", async () => {
    const { browser, idToken, username } = await setup();
    const { fields } = await confirmPage(browser, { id_token_hint: idToken, post_logout_redirect_uri: BYE, ui_locales: "fr-CA fr", logout_hint: username });
    expect((await confirm(browser, fields)).headers.get("location")).toBe(BYE);
  });
});

describe("no open redirect: untrusted requests get an error page", () => {
  it("a URI not registered as a post-logout URI of that client (exact match only)", async () => {
    const { client, browser, idToken } = await setup();
    await oidcClient({ postLogoutRedirectUris: ["https://other.example.com/bye"] });
    for (const uri of [
      "https://evil.example.com/",
      `${BYE}/`,
      `${BYE}?x=1`,
      BYE.toUpperCase(),
      "https://app.example.com/bye",
      REDIRECT, // a redirect URI is not a post-logout URI
      "https://other.example.com/bye", // another client's
    ]) {
      await expectErrorPage(await browser.get(logoutUrl({ id_token_hint: idToken, post_logout_redirect_uri: uri })));
      await expectErrorPage(await browser.get(logoutUrl({ client_id: client.clientId, post_logout_redirect_uri: uri })));
    }
    expect(await isSignedIn(browser, client.clientId)).toBe(true);
  });

  it("a post_logout_redirect_uri with no client named", async () => {
    const { browser } = await setup();
    await expectErrorPage(await browser.get(logoutUrl({ post_logout_redirect_uri: BYE, state: "s" })));
  });

  it("client_id that disagrees with the id_token_hint's audience", async () => {
    const { browser, idToken } = await setup();
    const other = await logoutClient("Other");
    const html = await expectErrorPage(await browser.get(logoutUrl({ id_token_hint: idToken, client_id: other.clientId, post_logout_redirect_uri: BYE })));
    expect(html).toContain("client_id");
  });

  it("an invalid id_token_hint: garbage, unsigned, foreign issuer, an access token", async () => {
    const { client, browser, id } = await setup();
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: ISSUER, sub: id, aud: client.clientId, iat: now, exp: now + 600 };
    const accessToken = redirectParams(
      await browser.get(authorizeUrl(oidcRequest(client.clientId, { response_type: "id_token token" }))),
    ).get("access_token")!;
    for (const hint of [
      "garbage",
      unsignedJwt(claims),
      await signWithServerKey({ ...claims, iss: "https://evil.example.com/o" }),
      await signWithServerKey({ ...claims, aud: client.clientId }, "ES256", "at+jwt"),
      accessToken,
    ]) {
      await expectErrorPage(await browser.get(logoutUrl({ id_token_hint: hint })));
      await expectErrorPage(await browser.get(logoutUrl({ id_token_hint: hint, client_id: client.clientId, post_logout_redirect_uri: BYE })));
    }
  });

  it("an unknown client_id, and a repeated parameter", async () => {
    const { browser } = await setup();
    await expectErrorPage(await browser.get(logoutUrl({ client_id: "no-such-client" })));
    await expectErrorPage(await browser.get(`/o/logout/?state=a&state=b`));
  });

  it("the confirm POST is checked again: a URI swapped into the form is refused, and nobody is signed out", async () => {
    const { client, browser, idToken } = await setup();
    const { fields } = await confirmPage(browser, { id_token_hint: idToken, post_logout_redirect_uri: BYE, state: "s" });
    await expectErrorPage(await confirm(browser, { ...fields, post_logout_redirect_uri: "https://evil.example.com/" }));
    expect(await isSignedIn(browser, client.clientId)).toBe(true);
  });
});

describe("CSRF on the confirm form", () => {
  it("a wrong token, a missing one, another browser's, or a foreign Origin: 403, still signed in, no redirect", async () => {
    const { client, browser, idToken } = await setup();
    const params = { id_token_hint: idToken, post_logout_redirect_uri: BYE, state: "s" };
    const { fields } = await confirmPage(browser, params);
    const othersToken = (await confirmPage(new Browser(), params)).fields.csrfmiddlewaretoken!;
    const { csrfmiddlewaretoken: _, ...withoutToken } = fields;
    const attempts: [string, () => Promise<Response>][] = [
      ["wrong token", () => confirm(browser, { ...fields, csrfmiddlewaretoken: "A".repeat(43) })],
      ["missing token", () => confirm(browser, withoutToken)],
      ["another browser's token", () => confirm(browser, { ...fields, csrfmiddlewaretoken: othersToken })],
      ["foreign Origin", () => browser.post("/o/logout/", { ...fields, logout: "yes" }, { origin: "https://evil.example.com" })],
    ];
    for (const [label, attempt] of attempts) {
      const res = await attempt();
      expect(res.status, label).toBe(403);
      expect(res.headers.get("location"), label).toBeNull();
      // The confirm page again, to try once more.
      expect(hiddenFields(await res.text()).post_logout_redirect_uri, label).toBe(BYE);
      expect(await isSignedIn(browser, client.clientId), label).toBe(true);
    }
  });
});

describe("REVOKE_TOKENS_ON_LOGOUT", () => {
  async function tokensVia(app: ReturnType<typeof createProvider>, browser: Browser, client: { clientId: string; clientSecret: string }) {
    const res = await browser.get(authorizeUrl(oidcRequest(client.clientId)));
    const code = redirectParams(res).get("code")!;
    const token = await app.request(
      `${BASE}/o/token/`,
      {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(client.clientId, client.clientSecret) },
        body: form({ grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: VERIFIER }),
      },
      env,
    );
    return await expectOidcTokens(token);
  }

  it("on: the user's refresh tokens of that client are revoked, with their access tokens; other clients' stay", async () => {
    const events: ProviderEvent[] = [];
    const app = createProvider({ settings: { REVOKE_TOKENS_ON_LOGOUT: true }, events: (event) => void events.push(event) });
    const client = await logoutClient();
    const otherClient = await logoutClient("Other");
    const user = await signedInOidc();
    const browser = new AppBrowser(app);
    await browser.login(user.username, "correct horse battery");

    const first = await tokensVia(app, browser, client);
    const second = await tokensVia(app, browser, client);
    const other = await tokensVia(app, browser, otherClient);

    const { fields } = await confirmPage(browser, { id_token_hint: first.id_token, post_logout_redirect_uri: BYE, state: "s" });
    const res = await confirm(browser, fields);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`${BYE}?state=s`);
    expect(events).toContainEqual({ type: "token.revoked", clientId: client.clientId, tokenType: "refresh_token" });

    const rows = await db()
      .select({ revokedAt: refreshTokens.revokedAt })
      .from(refreshTokens)
      .where(and(eq(refreshTokens.userId, user.id), eq(refreshTokens.clientId, client.clientId)))
      .all();
    expect(rows).toHaveLength(2);
    for (const row of rows) expect(row.revokedAt).toBeTypeOf("number");

    for (const tokens of [first, second]) {
      await expectTokenError(await refresh(client, tokens.refresh_token!), "invalid_grant");
      expect((await userinfo(tokens.access_token)).status).toBe(401);
    }
    expect((await userinfo(other.access_token)).status).toBe(200);
    await expectTokens(await refresh(otherClient, other.refresh_token!));
  });

  it("on, but nobody signed in: only the redirect, nothing revoked", async () => {
    const app = createProvider({ settings: { REVOKE_TOKENS_ON_LOGOUT: true } });
    const client = await logoutClient();
    const { browser } = await signedInOidc();
    const code = redirectParams(await browser.get(authorizeUrl(oidcRequest(client.clientId)))).get("code")!;
    const tokens = await expectOidcTokens(await exchangeCode(client, code));
    const stranger = new AppBrowser(app);
    const { fields } = await confirmPage(stranger, { id_token_hint: tokens.id_token, post_logout_redirect_uri: BYE });
    expect((await confirm(stranger, fields)).headers.get("location")).toBe(BYE);
    await expectTokens(await refresh(client, tokens.refresh_token!));
  });

  it("off (the default): signing out leaves the tokens alone", async () => {
    const client = await logoutClient();
    const { browser } = await signedInOidc();
    const code = redirectParams(await browser.get(authorizeUrl(oidcRequest(client.clientId)))).get("code")!;
    const tokens = await expectOidcTokens(await exchangeCode(client, code));
    const { fields } = await confirmPage(browser, { id_token_hint: tokens.id_token, post_logout_redirect_uri: BYE });
    expect((await confirm(browser, fields)).status).toBe(303);
    expect((await userinfo(tokens.access_token)).status).toBe(200);
    await expectTokens(await refresh(client, tokens.refresh_token!));
  });
});
