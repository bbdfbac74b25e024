import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { setUserActive } from "../../src/db/users";
import { Browser, hiddenFields } from "./support/browser";
import { BASE, createClient, db } from "./support/helpers";
import { authorizeUrl, codeRequest, isConsentPage, newUser, PASSWORD, REDIRECT, signedIn } from "./support/flow";

/**
 * The sign-in page: CSRF, throttling, no open redirect after sign-in, cookie attributes,
 * page headers, and escaping of everything echoed.
 */

const SESSION = "__Host-eot_session";

function sessionCookieSet(res: Response): boolean {
  return res.headers.getSetCookie().some((line) => /^(__Host-)?eot_session=[^;]/.test(line) && !/max-age=0/i.test(line));
}

/** Whether the browser is signed in: an authorization request goes on without the login page. */
async function isSignedIn(browser: Browser): Promise<boolean> {
  const { clientId } = await createClient({ grantTypes: ["authorization_code"], redirectUris: [REDIRECT] });
  const res = await browser.get(authorizeUrl(codeRequest(clientId)));
  if (res.status === 303) return !res.headers.get("location")!.startsWith("/o/login/");
  return isConsentPage(res, await res.text());
}

async function loginForm(browser: Browser, next?: string) {
  const page = await browser.get(next === undefined ? "/o/login/" : `/o/login/?${new URLSearchParams({ next })}`);
  expect(page.status).toBe(200);
  return hiddenFields(await page.text());
}

function expectPageHeaders(res: Response) {
  expect(res.headers.get("content-type")).toMatch(/^text\/html/);
  expect(res.headers.get("x-frame-options")).toBe("DENY");
  expect(res.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
  expect(res.headers.get("cache-control")).toBe("no-store");
  expect(res.headers.get("access-control-allow-origin")).toBeNull();
}

describe("CSRF on the login form", () => {
  it("signs in with the form's token (for comparison)", async () => {
    const { username } = await newUser();
    const browser = new Browser();
    const fields = await loginForm(browser);
    const res = await browser.post("/o/login/", { ...fields, username, password: PASSWORD });
    expect(res.status).toBe(200);
    expect(sessionCookieSet(res)).toBe(true);
    expect(await isSignedIn(browser)).toBe(true);
  });

  it("refuses a missing token, a wrong one, one of another browser, and a foreign Origin: 403, no session", async () => {
    const { username } = await newUser();
    const other = new Browser();
    const othersToken = (await loginForm(other)).csrfmiddlewaretoken!;

    const attempts: [string, (b: Browser, fields: Record<string, string>) => Promise<Response>][] = [
      ["missing token", (b, { csrfmiddlewaretoken: _, ...rest }) => b.post("/o/login/", { ...rest, username, password: PASSWORD })],
      ["wrong token", (b, fields) => b.post("/o/login/", { ...fields, csrfmiddlewaretoken: "A".repeat(43), username, password: PASSWORD })],
      ["another browser's token", (b, fields) => b.post("/o/login/", { ...fields, csrfmiddlewaretoken: othersToken, username, password: PASSWORD })],
      ["foreign Origin", (b, fields) => b.post("/o/login/", { ...fields, username, password: PASSWORD }, { origin: "https://evil.example" })],
      ["null Origin", (b, fields) => b.post("/o/login/", { ...fields, username, password: PASSWORD }, { origin: "null" })],
    ];
    for (const [what, attempt] of attempts) {
      const browser = new Browser();
      const fields = await loginForm(browser);
      const res = await attempt(browser, fields);
      expect(res.status, what).toBe(403);
      expectPageHeaders(res);
      expect(sessionCookieSet(res), what).toBe(false);
      expect(browser.cookies.has(SESSION), what).toBe(false);
    }
  });

  it("refuses a post without the CSRF cookie", async () => {
    const { username } = await newUser();
    const fields = await loginForm(new Browser());
    const res = await new Browser().post("/o/login/", { ...fields, username, password: PASSWORD });
    expect(res.status).toBe(403);
    expect(sessionCookieSet(res)).toBe(false);
  });
});

describe("credentials", () => {
  it("a wrong password or unknown user: 400 (a 401 needs an HTTP challenge) with a message, no session", async () => {
    const { username } = await newUser();
    for (const [user, password] of [
      [username, "wrong password"],
      [`nobody${username}`, PASSWORD],
    ] as const) {
      const browser = new Browser();
      const res = await browser.post("/o/login/", { ...(await loginForm(browser)), username: user, password });
      expect(res.status).toBe(400);
      expectPageHeaders(res);
      expect(await res.text()).toContain("Invalid username or password.");
      expect(sessionCookieSet(res)).toBe(false);
      expect(await isSignedIn(browser)).toBe(false);
    }
  });

  it("locks a username after 5 failures from one address (429) even with the right password; 4 failures do not; other addresses are not locked", async () => {
    const tryLogin = async (username: string, password: string, address?: string) => {
      const browser = new Browser();
      const headers: Record<string, string> = address ? { "cf-connecting-ip": address } : {};
      return browser.post("/o/login/", { ...(await loginForm(browser)), username, password }, headers);
    };
    const fourth = await newUser("four");
    for (let i = 0; i < 4; i++) expect((await tryLogin(fourth.username, "wrong password")).status).toBe(400);
    expect((await tryLogin(fourth.username, PASSWORD)).status).toBe(200);

    const { username } = await newUser("locked");
    for (let i = 0; i < 5; i++) expect((await tryLogin(username, `wrong password ${i}`)).status).toBe(400);
    const res = await tryLogin(username, PASSWORD);
    expect(res.status).toBe(429);
    expect(await res.text()).toContain("Too many failed attempts");
    expect(sessionCookieSet(res)).toBe(false);
    // The failures came from one address (none: "unknown"); the user elsewhere still signs in.
    expect((await tryLogin(username, PASSWORD, "192.0.2.10")).status).toBe(200);
  });

  it("a disabled user cannot sign in, and a signed-in user who is disabled is signed out", async () => {
    const disabled = await newUser("disabled");
    await setUserActive(db(), disabled.username, false);
    const browser = new Browser();
    const res = await browser.post("/o/login/", { ...(await loginForm(browser)), username: disabled.username, password: PASSWORD });
    expect(res.status).toBe(400);
    expect(sessionCookieSet(res)).toBe(false);

    const later = await signedIn("later");
    expect(await isSignedIn(later.browser)).toBe(true);
    await setUserActive(db(), later.username, false);
    expect(await isSignedIn(later.browser)).toBe(false);
  });
});

describe("where to go after signing in (no open redirect)", () => {
  it("goes back to our authorization endpoint", async () => {
    const { username } = await newUser();
    const { clientId } = await createClient({ grantTypes: ["authorization_code"], redirectUris: [REDIRECT] });
    const next = authorizeUrl(codeRequest(clientId));
    const browser = new Browser();
    const fields = await loginForm(browser, next);
    expect(fields.next).toBe(next);
    const res = await browser.post("/o/login/", { ...fields, username, password: PASSWORD });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(next);
  });

  it.each([
    "https://evil.example/",
    "https://evil.example/o/authorize/?client_id=x",
    "//evil.example/o/authorize/?client_id=x",
    "/\\evil.example/o/authorize/?client_id=x",
    "\\\\evil.example/o/authorize/?client_id=x",
    "/evil/o/authorize/?client_id=x",
    "/o/authorize/../../evil?client_id=x",
    "/o/authorizex/?client_id=x",
    "/o/login/?next=https://evil.example",
    "/o/authorize/?client_id=x\r\nLocation: https://evil.example",
    "javascript:alert(1)//o/authorize/?",
  ])("ignores next=%s", async (next) => {
    const { username } = await newUser();
    const browser = new Browser();
    const fields = await loginForm(browser, next);
    expect(fields.next).toBeUndefined();
    // Posted directly, it is ignored too.
    const res = await browser.post("/o/login/", { ...fields, next, username, password: PASSWORD });
    expect(res.status).toBe(200);
    expect(res.headers.get("location")).toBeNull();
    expect(await res.text()).toContain("Signed in");
  });
});

describe("cookies and page headers", () => {
  it("the session cookie on https: __Host- prefix, HttpOnly, Secure, SameSite=Lax, Path=/, no Domain", async () => {
    const { username } = await newUser();
    const browser = new Browser();
    const form = await browser.get("/o/login/");
    const csrf = form.headers.getSetCookie().find((line) => line.startsWith("__Host-eot_csrf="));
    expect(csrf).toBeDefined();
    const res = await browser.post("/o/login/", { ...hiddenFields(await form.text()), username, password: PASSWORD });
    const session = res.headers.getSetCookie().find((line) => line.startsWith(`${SESSION}=`));
    expect(session).toBeDefined();
    for (const cookie of [csrf!, session!]) {
      const attributes = cookie.split(";").slice(1).map((a) => a.trim().toLowerCase());
      expect(attributes).toContain("httponly");
      expect(attributes).toContain("secure");
      expect(attributes).toContain("samesite=lax");
      expect(attributes).toContain("path=/");
      expect(attributes.some((a) => a.startsWith("domain="))).toBe(false);
    }
  });

  it("on http://localhost (development) the cookies drop the prefix and Secure, but stay HttpOnly and SameSite=Lax", async () => {
    const { username } = await newUser();
    const browser = new Browser();
    const form = await browser.get("http://localhost:8787/o/login/");
    const res = await browser.post(
      "http://localhost:8787/o/login/",
      { ...hiddenFields(await form.text()), username, password: PASSWORD },
      { origin: "http://localhost:8787" },
    );
    expect(res.status).toBe(200);
    const session = res.headers.getSetCookie().find((line) => line.startsWith("eot_session="));
    expect(session).toBeDefined();
    expect(session).toMatch(/HttpOnly/i);
    expect(session).toMatch(/SameSite=Lax/i);
  });

  it("the login, consent and error pages are never framed, cached or shared cross-origin", async () => {
    const { clientId } = await createClient({ grantTypes: ["authorization_code"], redirectUris: [REDIRECT], allowedOrigins: ["https://spa.example"] });
    const origin = { origin: "https://spa.example" };
    const login = await SELF.fetch(`${BASE}/o/login/`, { headers: origin });
    expect(login.status).toBe(200);
    expectPageHeaders(login);

    const { browser } = await signedIn();
    const consent = await browser.fetch(authorizeUrl(codeRequest(clientId)), { headers: origin });
    expect(consent.status).toBe(200);
    expectPageHeaders(consent);

    const error = await SELF.fetch(`${BASE}/o/authorize/?client_id=nope`, { headers: origin });
    expect(error.status).toBe(400);
    expectPageHeaders(error);
  });
});

describe("escaping", () => {
  it("a username posted back with an error is escaped", async () => {
    const browser = new Browser();
    const res = await browser.post("/o/login/", { ...(await loginForm(browser)), username: '"><b>bold</b>', password: "wrong password" });
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).not.toContain("<b>bold</b>");
    expect(html).toContain("&lt;b&gt;bold&lt;/b&gt;");
    expect(html).not.toContain('value=""><b>');
  });

  it("state and the client's name are escaped on the consent page", async () => {
    const { clientId } = await createClient({
      name: 'Evil <img src=x onerror="alert(1)">',
      grantTypes: ["authorization_code"],
      redirectUris: [REDIRECT],
    });
    const { browser } = await signedIn();
    const state = '"><script>alert(1)</script>';
    const res = await browser.get(authorizeUrl(codeRequest(clientId, { state })));
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).not.toContain("<script>alert(1)</script>");
    expect(html).not.toContain("<img src=x");
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(html).toContain("&lt;img src=x");
    // The hidden field still carries the exact value back.
    expect(hiddenFields(html).state).toBe(state);
  });

  it("state on the login page (inside next) is escaped, and a parameter name is not echoed on the error page", async () => {
    const { clientId } = await createClient({ grantTypes: ["authorization_code"], redirectUris: [REDIRECT] });
    const start = await SELF.fetch(`${BASE}${authorizeUrl(codeRequest(clientId, { state: "<script>alert(1)</script>" }))}`, { redirect: "manual" });
    const login = await SELF.fetch(new URL(start.headers.get("location")!, BASE));
    const loginHtml = await login.text();
    expect(loginHtml).not.toContain("<script>");

    const error = await SELF.fetch(`${BASE}/o/authorize/?%3Cscript%3Ex=1&%3Cscript%3Ex=2`);
    expect(error.status).toBe(400);
    const errorHtml = await error.text();
    expect(errorHtml).not.toContain("<script>");
    expect(errorHtml).not.toContain("script");
  });
});
