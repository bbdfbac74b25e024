/**
 * The example SPA (examples/spa) as `npm start` serves it at /demo/, in a real browser (Debian's
 * chromium through playwright-core; no browser is ever downloaded):
 *
 *  - the banner and the Worker's home page link /demo/;
 *  - /demo/ comes from the assets npm start prepares, with its CSP and security headers, and the
 *    Worker's own /demo/callback is not shadowed by them;
 *  - Sign in → the login page (typed into) → the consent page (clicked) → back on /demo/, where the
 *    page (oauth4webapi) redeemed the code with its PKCE verifier: the ID token's claims, UserInfo
 *    and the protected API are shown; nothing but memory holds the tokens;
 *  - Refresh → a new access token (and refresh token), which the API accepts;
 *  - Sign out → the refresh token is revoked, the end-session endpoint's confirmation → back on
 *    /demo/ signed out; the provider's session is gone (Sign in asks for the password again);
 *  - an authorization response with another state is refused by the page, and no code is redeemed.
 *
 * The test reads what the page received from the network (token responses, the authorization
 * request) to check the page's display against it. With SCREENSHOTS=1 each step is saved as a PNG
 * in docs/screenshots/ (800×900 viewport); without it nothing is written into the repository.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Frame, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHROMIUM, haveChromium, launchChromium, type LaunchedChromium } from "./support/chromium";
import { screenshots } from "./support/screenshots";
import { main as adminMain } from "../../scripts/admin";
import { npmStart, type NpmStartRun } from "./support/npm-start";
import { freePort } from "./support/server";

if (!haveChromium) {
  console.warn(`browser-demo-spa.test.ts skipped: ${CHROMIUM} is missing (install it: apt-get update && apt-get install -y chromium)`);
}

const title = haveChromium ? "example SPA in chromium" : `example SPA in chromium (SKIPPED: ${CHROMIUM} is missing; apt-get install -y chromium)`;

interface TokenResponse {
  access_token: string;
  token_type?: string;
  refresh_token?: string;
  id_token?: string;
  scope?: string;
}

const jwtPayload = (jwt: string) => JSON.parse(Buffer.from(jwt.split(".")[1]!, "base64url").toString("utf8")) as Record<string, unknown>;

describe.skipIf(!haveChromium)(title, () => {
  let dir: string;
  let run: NpmStartRun | undefined;
  let base: string;
  let spaClientId: string;
  let browser: LaunchedChromium | undefined;
  let page: Page;
  const screens = screenshots(() => page);
  const shot = screens.shot;
  /** What the page got from the token endpoint, in order. */
  const tokenResponses: TokenResponse[] = [];
  /** The Authorization and DPoP headers the page sent to /api/me. */
  const apiRequests: { authorization: string; dpop?: string }[] = [];
  /** The authorization requests the page sent the browser to. */
  const authorizeRequests: URL[] = [];
  /** CSP violations and uncaught errors the page reported. */
  const pageProblems: string[] = [];


  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "eot-demo-spa-"));
    const [started, launched] = await Promise.all([
      freePort().then((port) => npmStart({ port, stateDir: join(dir, "state"), devVars: join(dir, "dev.vars") })),
      launchChromium({ viewport: { width: 800, height: 900 }, navigationTimeout: 45_000 }),
    ]);
    run = started;
    browser = launched;
    base = run.banner.base;
    spaClientId = (JSON.parse(readFileSync(join(dir, "state", "demo-spa-client.json"), "utf8")) as { client_id: string }).client_id;
    page = browser.page;
    page.on("request", (request) => {
      const url = new URL(request.url());
      if (url.pathname === "/o/authorize/" && request.isNavigationRequest() && url.searchParams.has("code_challenge")) authorizeRequests.push(url);
    });
    page.on("response", async (response) => {
      if (new URL(response.url()).pathname !== "/o/token/" || response.request().method() !== "POST") return;
      tokenResponses.push((await response.json()) as TokenResponse);
    });
    page.on("request", (request) => {
      if (new URL(request.url()).pathname !== "/api/me") return;
      apiRequests.push({ authorization: request.headers()["authorization"] ?? "", dpop: request.headers()["dpop"] });
    });
    page.on("console", (message) => {
      if (/Content Security Policy|Trusted Type/i.test(message.text())) pageProblems.push(message.text());
    });
    page.on("pageerror", (error) => pageProblems.push(`uncaught: ${error.message}`));
  }, 150_000);

  afterAll(async () => {
    await browser?.close();
    await run?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
    screens.report();
  });

  const text = async (selector: string) => (await page.innerText(selector)).replace(/\s+/g, " ").trim();
  /** Waits for the page's status line to read `expected`; a timeout says what the page shows instead. */
  const statusIs = async (expected: string) => {
    try {
      await page.waitForFunction((want) => document.getElementById("status")?.textContent === want, expected, { timeout: 20_000 });
    } catch (error) {
      const shown = await page.evaluate(() => ({ status: document.getElementById("status")?.textContent, error: document.getElementById("error")?.textContent }));
      throw new Error(`status "${expected}" expected, the page at ${page.url()} shows ${JSON.stringify(shown)}`, { cause: error });
    }
  };
  /** Waits for the token endpoint's answer number `n` (1-based) to have been read. */
  const tokenResponse = async (n: number) => {
    await expect.poll(() => tokenResponses.length).toBeGreaterThanOrEqual(n);
    return tokenResponses[n - 1]!;
  };
  /** The demo user's live refresh tokens of the SPA client, as the admin CLI sees them in npm start's state. */
  const liveRefreshTokens = async () => {
    let listed = "";
    const code = await adminMain(["user", "authorizations", "demo", "--json", "--persist-to", join(dir, "state")], { out: (t) => (listed += t), err: () => {} });
    expect(code).toBe(0);
    const grant = (JSON.parse(listed) as { client_id: string; live_refresh_tokens: number }[]).find((a) => a.client_id === spaClientId);
    return grant?.live_refresh_tokens ?? 0;
  };
  const claimsShown = async () =>
    Object.fromEntries(
      await page.$$eval("#claims tbody tr", (rows) => rows.map((row) => [row.querySelector("th")!.textContent!, row.querySelector("td")!.textContent!])),
    ) as Record<string, string>;
  const refreshGrant = (refreshToken: string) =>
    fetch(`${base}/o/token/`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: refreshToken, client_id: spaClientId }),
    });

  it("is linked from the banner and served with its security headers, next to the Worker's /demo/callback", async () => {
    expect(run!.output()).toContain(`Example SPA:     ${base}/demo/  (sign in with PKCE in the browser)`);
    // The Worker's home page links it too, under npm start only (the DEMO_USER var).
    expect(await (await fetch(`${base}/`)).text()).toContain(`<a href="${base}/demo/">Example SPA (sign in with PKCE in the browser)</a>`);

    const spa = await fetch(`${base}/demo/`);
    expect(spa.status).toBe(200);
    expect(await spa.text()).toContain('<script type="module" src="app.js"></script>');
    const csp = spa.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toMatch(/^default-src 'none'/);
    expect(spa.headers.get("x-frame-options")).toBe("DENY");
    expect(spa.headers.get("x-content-type-options")).toBe("nosniff");
    expect(spa.headers.get("referrer-policy")).toBe("no-referrer");

    const config = (await (await fetch(`${base}/demo/config.json`)).json()) as Record<string, string>;
    expect(config).toMatchObject({ issuer: `${base}/o`, client_id: spaClientId, api: `${base}/api/me`, redirect_uri: `${base}/demo/` });
    const library = await fetch(`${base}/demo/vendor/oauth4webapi.js`);
    expect(library.headers.get("content-type")).toMatch(/javascript/);
    expect(await library.text()).toContain("export async function processAuthorizationCodeResponse");

    // The confidential demo client's callback is still the Worker's page (no asset shadows it).
    const callback = await fetch(`${base}/demo/callback?code=abc&state=pkce-x`);
    expect(callback.status).toBe(200);
    expect(await callback.text()).toContain("-d code_verifier=$VERIFIER");
  });

  it(
    "signs in with PKCE, shows the ID token, UserInfo and the API, refreshes, and signs out",
    async () => {
      // 1. Signed out.
      const first = await page.goto(`${base}/demo/`);
      expect(first!.headers()["content-security-policy"]).toContain("frame-ancestors 'none'");
      await statusIs("Signed out.");
      expect(await page.isVisible("#sign-in")).toBe(true);
      expect(await page.isVisible("#sign-out")).toBe(false);
      expect(await text("#client-id")).toBe(spaClientId);
      await shot("spa-01-signed-out");

      // 2. Sign in: the login page, then the consent page, then back.
      await Promise.all([page.waitForURL((url) => url.pathname === "/o/login/"), page.click("#sign-in")]);
      expect(authorizeRequests).toHaveLength(1);
      const authorize = authorizeRequests[0]!;
      expect(Object.fromEntries(authorize.searchParams)).toMatchObject({
        response_type: "code",
        client_id: spaClientId,
        redirect_uri: `${base}/demo/`,
        scope: "openid profile email read",
        code_challenge_method: "S256",
      });
      const nonce = authorize.searchParams.get("nonce");
      expect(nonce).toBeTruthy();
      await page.locator("#username").pressSequentially("demo");
      await page.locator("#password").pressSequentially("demo-password");
      await Promise.all([page.waitForURL((url) => url.pathname === "/o/authorize/"), page.click("button[type=submit]")]);
      expect(await text("h1")).toContain("Demo SPA");
      await shot("spa-02-consent");
      await Promise.all([page.waitForURL((url) => url.pathname === "/demo/"), page.click("button[name=allow]")]);

      // 3. Signed in: the page redeemed the code (one token response) and shows what it got.
      await statusIs("Signed in as demo.");
      await page.waitForSelector("#api-section:not([hidden])");
      await page.waitForSelector("#userinfo-section:not([hidden])");
      expect(new URL(page.url()).search).toBe(""); // the code does not stay in the address bar
      expect(await page.isVisible("#error")).toBe(false);
      const signedIn = await tokenResponse(1);
      expect(signedIn).toMatchObject({ access_token: expect.any(String), refresh_token: expect.any(String), id_token: expect.any(String) });
      const idToken = jwtPayload(signedIn.id_token!);
      const userId = idToken.sub as string;
      expect(idToken).toMatchObject({ iss: `${base}/o`, aud: spaClientId, nonce });

      // Sender-constrained (RFC 9449; the demo SPA client requires it): the token is bound to the
      // page's key, the page proves it on each call, and the same token without the key is refused.
      expect(signedIn.token_type).toBe("DPoP");
      const jkt = (jwtPayload(signedIn.access_token).cnf as { jkt?: string } | undefined)?.jkt;
      expect(jkt).toMatch(/^[\w-]{43}$/);
      expect(await text("#token")).toContain(`Type DPoP, bound to key ${jkt}`);
      await expect.poll(() => apiRequests.length).toBeGreaterThanOrEqual(1);
      expect(apiRequests[0]!.authorization).toBe(`DPoP ${signedIn.access_token}`);
      expect(apiRequests[0]!.dpop).toMatch(/^ey[\w-]+\.[\w-]+\.[\w-]+$/);
      const stolen = await fetch(`${base}/api/me`, { headers: { authorization: `Bearer ${signedIn.access_token}` } });
      expect(stolen.status).toBe(401);
      const replayed = await fetch(`${base}/api/me`, { headers: { authorization: `DPoP ${signedIn.access_token}`, dpop: apiRequests[0]!.dpop! } });
      expect(replayed.status).toBe(401); // a proof is good once

      const claims = await claimsShown();
      expect(claims).toMatchObject({ sub: userId, iss: `${base}/o`, aud: spaClientId, nonce: nonce! });
      expect(claims.exp).toMatch(/^\d+ \(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\)$/);

      expect(JSON.parse(await page.innerText("#userinfo"))).toMatchObject({ sub: userId, preferred_username: "demo" });
      expect(await page.getAttribute("#api", "data-status")).toBe("200");
      expect(JSON.parse(await page.innerText("#api"))).toEqual({ sub: userId, client_id: spaClientId, scope: "openid profile email read" });
      expect(await text("#token")).toContain(`Token …${signedIn.access_token.slice(-8)}`);
      expect(await text("#token")).toMatch(/Expires \d\d:\d\d:\d\d \(in 3600 s\)/);
      // Tokens in memory only: the pending request is gone from sessionStorage, nothing was stored.
      expect(await page.evaluate(() => [sessionStorage.length, localStorage.length])).toEqual([0, 0]);
      await shot("spa-03-signed-in");
      // Readable on a phone: at 375 px nothing is wider than the screen (tables and JSON wrap).
      await page.setViewportSize({ width: 375, height: 800 });
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
      await page.setViewportSize({ width: 800, height: 900 });

      // A reload forgets the tokens (memory only). The provider's session remains: Sign in needs
      // no password, only the consent page again (REQUEST_APPROVAL_PROMPT is DOT's "force").
      await page.reload();
      await statusIs("Signed out.");
      const pagesSeen: string[] = [];
      const seen = (frame: Frame) => {
        if (frame === page.mainFrame()) pagesSeen.push(new URL(frame.url()).pathname);
      };
      page.on("framenavigated", seen);
      await Promise.all([page.waitForURL((url) => url.pathname === "/o/authorize/"), page.click("#sign-in")]);
      await Promise.all([page.waitForURL((url) => url.pathname === "/demo/"), page.click("button[name=allow]")]);
      await statusIs("Signed in as demo.");
      page.off("framenavigated", seen);
      expect(pagesSeen).toContain("/o/authorize/");
      expect(pagesSeen).not.toContain("/o/login/");
      const again = await tokenResponse(2);
      expect(again.access_token).not.toBe(signedIn.access_token);
      expect(jwtPayload(again.id_token!)).toMatchObject({ sub: userId, nonce: authorizeRequests.at(-1)!.searchParams.get("nonce") });

      // 4. Refresh: a new access token and a new refresh token; the API accepts the new one.
      await page.click("#refresh");
      await page.waitForFunction(() => document.getElementById("refresh-result")?.textContent?.startsWith("Refreshed"));
      const refreshed = await tokenResponse(3);
      expect(refreshed.access_token).not.toBe(again.access_token);
      expect(refreshed.refresh_token).toEqual(expect.any(String));
      expect(refreshed.refresh_token).not.toBe(again.refresh_token);
      expect(await text("#refresh-result")).toContain(`…${again.access_token.slice(-8)} → …${refreshed.access_token.slice(-8)}`);
      expect(await text("#token")).toContain(`Token …${refreshed.access_token.slice(-8)}`);
      await page.click("#call-api");
      await page.waitForFunction(
        (tail) => document.getElementById("api-request")?.textContent?.includes(`with access token …${tail}: HTTP 200`),
        refreshed.access_token.slice(-8),
      );
      expect(JSON.parse(await page.innerText("#api"))).toMatchObject({ sub: userId, client_id: spaClientId });
      expect(await page.isVisible("#error")).toBe(false);
      // Without the page's key its refresh token is useless: the client must send a proof (it is
      // DPoP-bound), and the refresh token is bound to the page's key (a public client's, RFC 9449 §5).
      const unbound = await refreshGrant(refreshed.refresh_token!);
      expect(unbound.status).toBe(400);
      expect(await unbound.json()).toMatchObject({ error: "invalid_dpop_proof" });
      await shot("spa-04-refreshed", false); // the top: the refresh result (the rest is as in spa-03)

      // Two live: the current one, and the first sign-in's, which the reload forgot (it expires on its own).
      const liveBefore = await liveRefreshTokens();
      expect(liveBefore).toBe(2);

      // 5. Sign out: the provider asks to confirm, then sends the browser back, signed out.
      await Promise.all([page.waitForURL((url) => url.pathname === "/o/logout/"), page.click("#sign-out")]);
      const logout = new URL(page.url());
      expect(logout.searchParams.get("post_logout_redirect_uri")).toBe(`${base}/demo/`);
      // The newest ID token (the refresh brought one) names the user and the client.
      expect(refreshed.id_token).toEqual(expect.any(String));
      expect(logout.searchParams.get("id_token_hint")).toBe(refreshed.id_token);
      expect(await text("h1")).toBe("Sign out of Demo SPA?");
      await shot("spa-05-sign-out-confirm");
      await Promise.all([page.waitForURL((url) => url.pathname === "/demo/"), page.click("button[name=logout]")]);
      await statusIs("Signed out, here and at the provider.");
      expect(await page.isVisible("#sign-in")).toBe(true);
      expect(await page.isVisible("#claims-section")).toBe(false);
      expect(await page.isVisible("#error")).toBe(false);
      await shot("spa-06-signed-out-after-logout");

      // The page revoked its refresh token before leaving: one live refresh token fewer.
      // (A refresh from here proves nothing: without the page's key it is refused anyway.)
      expect(await liveRefreshTokens()).toBe(liveBefore - 1);

      // The provider's session is gone: signing in again asks for the password.
      await Promise.all([page.waitForURL((url) => url.pathname === "/o/login/"), page.click("#sign-in")]);
      expect(await page.isVisible("#password")).toBe(true);
      expect(tokenResponses).toHaveLength(3);

      // 6. With that sign-in pending, an authorization response with another state: refused, no code redeemed.
      await page.goto(`${base}/demo/?code=x&state=wrong&iss=${encodeURIComponent(`${base}/o`)}`);
      await page.waitForSelector("#error:not([hidden])");
      expect(await text("#error")).toMatch(/unexpected "state" response parameter value/);
      expect(await text("#status")).toBe("Signed out.");
      expect(await page.isVisible("#claims-section")).toBe(false);
      expect(new URL(page.url()).search).toBe("");
      // And again, now that the pending sign-in was used up: nothing is pending.
      await page.goto(`${base}/demo/?code=x&state=wrong`);
      await page.waitForSelector("#error:not([hidden])");
      expect(await text("#error")).toContain("no sign-in is pending in this tab");
      expect(tokenResponses).toHaveLength(3);

      expect(pageProblems).toEqual([]);
      for (const { path, bytes } of screens.sizes()) expect(bytes, path).toBeLessThan(200_000);
    },
    90_000,
  );
});
