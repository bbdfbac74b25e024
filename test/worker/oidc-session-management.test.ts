import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createProvider } from "../../src/provider";
import { Browser, hiddenFields, redirectParams } from "./support/browser";
import { BASE, createClient, ISSUER } from "./support/helpers";
import { authorizeUrl, PASSWORD, REDIRECT } from "./support/flow";
import { AppBrowser, oidcClient, oidcRequest, oidcUser, signedInOidc } from "./support/oidc-helpers";

/** OpenID Connect Session Management 1.0: the browser-state cookie, `session_state`, the check-session iframe. */

const STATE_COOKIE = "__Host-eot_browser_state";
const APP_ORIGIN = new URL(REDIRECT).origin;

/** The hash the check-session iframe computes, written here independently of the server. */
async function expectedSessionState(clientId: string, origin: string, browserState: string, salt: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${clientId} ${origin} ${browserState} ${salt}`));
  return `${[...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("")}.${salt}`;
}

/** Whether `sessionState` still matches the browser's cookie, as the iframe answers it. */
async function matchesCookie(browser: Browser, clientId: string, sessionState: string): Promise<boolean> {
  const salt = sessionState.slice(sessionState.lastIndexOf(".") + 1);
  return (await expectedSessionState(clientId, APP_ORIGIN, browser.cookies.get(STATE_COOKIE) ?? "", salt)) === sessionState;
}

/** The Set-Cookie line of the browser-state cookie in a response. */
const stateCookieLine = (res: Response, name = STATE_COOKIE) => res.headers.getSetCookie().find((line) => line.startsWith(`${name}=`));

async function setup() {
  const { client, clientId } = await oidcClient();
  return { client, clientId, ...(await signedInOidc()) };
}

/** The authorization response's parameters: the redirect's query or fragment, or the form_post page's fields. */
async function responseParams(browser: Browser, params: Record<string, string | undefined>): Promise<URLSearchParams> {
  const res = await browser.get(authorizeUrl(params));
  if (res.status === 200) return new URLSearchParams(hiddenFields(await res.text()));
  expect(res.status).toBe(303);
  return redirectParams(res);
}

describe("session_state in authentication responses", () => {
  it("is in every successful OpenID response: query, fragment and form_post, and matches the browser-state cookie", async () => {
    const { browser, clientId } = await setup();
    const cases = [
      { response_type: "code" },
      { response_type: "code", response_mode: "fragment" },
      { response_type: "code", response_mode: "form_post" },
      { response_type: "id_token" },
      { response_type: "code id_token token" },
      { response_type: "id_token", response_mode: "form_post" },
    ];
    const seen = new Set<string>();
    for (const extra of cases) {
      const out = await responseParams(browser, oidcRequest(clientId, extra));
      const sessionState = out.get("session_state");
      expect(out.get("error"), JSON.stringify(extra)).toBeNull();
      expect(sessionState, JSON.stringify(extra)).toMatch(/^[0-9a-f]{64}\.[A-Za-z0-9_-]+$/);
      expect(await matchesCookie(browser, clientId, sessionState!), JSON.stringify(extra)).toBe(true);
      seen.add(sessionState!);
    }
    // A fresh salt each time.
    expect(seen.size).toBe(cases.length);
  });

  it("is bound to the client and to the redirect URI's origin", async () => {
    const { browser, clientId } = await setup();
    const sessionState = (await responseParams(browser, oidcRequest(clientId))).get("session_state")!;
    const salt = sessionState.split(".")[1]!;
    const opbs = browser.cookies.get(STATE_COOKIE)!;
    expect(await expectedSessionState(clientId, APP_ORIGIN, opbs, salt)).toBe(sessionState);
    expect(await expectedSessionState(clientId, "https://evil.example", opbs, salt)).not.toBe(sessionState);
    expect(await expectedSessionState("other-client", APP_ORIGIN, opbs, salt)).not.toBe(sessionState);
  });

  it("is in a prompt=none success", async () => {
    const { browser, clientId } = await setup();
    const out = await responseParams(browser, oidcRequest(clientId, { prompt: "none" }));
    expect(out.get("code")).toBeTruthy();
    expect(await matchesCookie(browser, clientId, out.get("session_state")!)).toBe(true);
  });

  it("is not in responses without openid, nor in error responses", async () => {
    const { browser, clientId } = await setup();
    const plain = await responseParams(browser, oidcRequest(clientId, { scope: "read", nonce: undefined }));
    expect(plain.get("code")).toBeTruthy();
    expect(plain.has("session_state")).toBe(false);

    const denied = await responseParams(new Browser(), oidcRequest(clientId, { prompt: "none" }));
    expect(denied.get("error")).toBe("login_required");
    expect(denied.has("session_state")).toBe(false);

    const badScope = await responseParams(browser, oidcRequest(clientId, { scope: "openid nonsense" }));
    expect(badScope.get("error")).toBe("invalid_scope");
    expect(badScope.has("session_state")).toBe(false);
  });

  it("is not in responses to a redirect URI without a web origin (a native app's scheme)", async () => {
    const native = "com.example.app:/callback";
    const { clientId } = await oidcClient({ redirectUris: [native], clientType: "public" });
    const { browser } = await signedInOidc();
    const out = await responseParams(browser, oidcRequest(clientId, { redirect_uri: native }));
    expect(out.get("code")).toBeTruthy();
    expect(out.has("session_state")).toBe(false);
  });
});

describe("the browser-state cookie", () => {
  it("is set at sign-in, readable by scripts, SameSite=None and Secure on https, for the session's lifetime", async () => {
    const user = await oidcUser();
    const browser = new Browser();
    const res = await browser.login(user.username, PASSWORD);
    const line = stateCookieLine(res);
    expect(line).toBeDefined();
    expect(line).not.toMatch(/HttpOnly/i);
    expect(line).toMatch(/; SameSite=None/i);
    expect(line).toMatch(/; Secure/i);
    expect(line).toMatch(/; Path=\//);
    expect(line).toMatch(/; Max-Age=1209600/);
    expect(browser.cookies.get(STATE_COOKIE)).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it("changes when the user signs out and signs in again; a session_state from before reads as changed", async () => {
    const { browser, clientId, username } = await setup();
    const before = browser.cookies.get(STATE_COOKIE)!;
    const sessionState = (await responseParams(browser, oidcRequest(clientId))).get("session_state")!;
    expect(await matchesCookie(browser, clientId, sessionState)).toBe(true);

    const page = await browser.get("/o/logout/");
    const signedOut = await browser.post("/o/logout/", { ...hiddenFields(await page.text()), logout: "yes" });
    expect(signedOut.status).toBe(200);
    expect(stateCookieLine(signedOut)).toMatch(/Max-Age=0/i);
    expect(browser.cookies.has(STATE_COOKIE)).toBe(false);
    expect(await matchesCookie(browser, clientId, sessionState)).toBe(false);

    await browser.login(username, PASSWORD);
    const after = browser.cookies.get(STATE_COOKIE)!;
    expect(after).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(after).not.toBe(before);
    expect(await matchesCookie(browser, clientId, sessionState)).toBe(false);
    const renewed = (await responseParams(browser, oidcRequest(clientId))).get("session_state")!;
    expect(await matchesCookie(browser, clientId, renewed)).toBe(true);
  });

  it("is set at /authorize for a session that has none (signed in before the cookie existed)", async () => {
    const { browser, clientId } = await setup();
    const value = browser.cookies.get(STATE_COOKIE)!;
    browser.cookies.delete(STATE_COOKIE);
    const res = await browser.get(authorizeUrl(oidcRequest(clientId)));
    const line = stateCookieLine(res);
    expect(line).toMatch(/; SameSite=None/i);
    expect(browser.cookies.get(STATE_COOKIE)).toBe(value);
    expect(await matchesCookie(browser, clientId, redirectParams(res).get("session_state")!)).toBe(true);
    // Once it is there, it is not set again.
    expect(stateCookieLine(await browser.get(authorizeUrl(oidcRequest(clientId))))).toBeUndefined();
  });

  it("on http://localhost: no __Host- prefix, not Secure, SameSite=Lax", async () => {
    const user = await oidcUser();
    const local = "http://localhost:8787";
    const browser = new Browser();
    const page = await browser.get(`${local}/o/login/`);
    const res = await browser.post(`${local}/o/login/`, { ...hiddenFields(await page.text()), username: user.username, password: PASSWORD }, { origin: local });
    expect(res.status).toBe(200);
    const line = stateCookieLine(res, "eot_browser_state");
    expect(line).toBeDefined();
    expect(line).toMatch(/; SameSite=Lax/i);
    expect(line).not.toMatch(/Secure|HttpOnly/i);
  });
});

describe("the check-session iframe", () => {
  it("is a cacheable page any site may frame, with one script allowed by its hash", async () => {
    const res = await SELF.fetch(`${ISSUER}/check_session/`);
    const html = await res.text();
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(res.headers.get("cache-control")).toBe("public, max-age=300");
    expect(res.headers.get("x-frame-options")).toBeNull();
    const csp = res.headers.get("content-security-policy")!;
    expect(csp).toMatch(/(^|; )default-src 'none'(;|$)/);
    expect(csp).toMatch(/(^|; )frame-ancestors \*(;|$)/);
    const script = /<script>([\s\S]*)<\/script>/.exec(html)![1]!;
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(script)));
    expect(csp).toContain(`script-src 'sha256-${btoa(String.fromCharCode(...digest))}'`);
    expect(script).toContain(JSON.stringify(STATE_COOKIE));
    expect(script).toContain("crypto.subtle.digest");
    expect(html).not.toMatch(/<form|<input|<button|<a /);
  });

  it("other pages stay unframeable", async () => {
    const res = await SELF.fetch(`${ISSUER}/login/`);
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    const form = await new Browser().fetch(authorizeUrl({ ...oidcRequest((await oidcClient()).clientId), response_mode: "form_post" }));
    expect(form.headers.get("x-frame-options")).toBe("DENY");
  });

  it("is named in discovery", async () => {
    const metadata = await (await SELF.fetch(`${ISSUER}/.well-known/openid-configuration`)).json<Record<string, unknown>>();
    expect(metadata.check_session_iframe).toBe(`${ISSUER}/check_session/`);
    expect((await SELF.fetch(metadata.check_session_iframe as string)).status).toBe(200);
  });
});

describe("SESSION_MANAGEMENT=false", () => {
  const app = createProvider({ settings: { SESSION_MANAGEMENT: false } });

  it("sets no cookie, sends no session_state, serves no iframe and names none in discovery", async () => {
    const user = await oidcUser();
    const { clientId } = await createClient({ grantTypes: ["authorization_code"], redirectUris: [REDIRECT], skipAuthorization: true });
    const browser = new AppBrowser(app);
    const page = await browser.get("/o/login/");
    const login = await browser.post("/o/login/", { ...hiddenFields(await page.text()), username: user.username, password: PASSWORD });
    expect(login.status).toBe(200);
    expect(browser.cookies.has("__Host-eot_session")).toBe(true);
    expect(stateCookieLine(login)).toBeUndefined();

    const res = await browser.get(authorizeUrl(oidcRequest(clientId)));
    const out = redirectParams(res);
    expect(out.get("code")).toBeTruthy();
    expect(out.has("session_state")).toBe(false);
    expect(stateCookieLine(res)).toBeUndefined();

    expect((await app.request(`${BASE}/o/check_session/`, {}, env)).status).toBe(404);
    const metadata = await (await browser.get("/o/.well-known/openid-configuration")).json<Record<string, unknown>>();
    expect(metadata).not.toHaveProperty("check_session_iframe");
    expect(metadata.end_session_endpoint).toBeTruthy();

    const bye = await browser.get("/o/logout/");
    const signedOut = await browser.post("/o/logout/", { ...hiddenFields(await bye.text()), logout: "yes" });
    expect(stateCookieLine(signedOut)).toBeUndefined();
  });
});
