/**
 * A user's own journey through the account pages in a real browser (Debian's chromium through
 * playwright-core; no browser is ever downloaded), against `wrangler dev`:
 *
 *  - the user opens /o/applications/, is sent to the login page, signs in by typing into the form
 *    and comes back to the (empty) list;
 *  - registers a confidential application (loopback redirect URI, authorization_code +
 *    refresh_token, scope read) and reads the secret shown once on the page;
 *  - runs an authorization code flow with PKCE for it in the same browser, approving the consent
 *    page by clicking; the code arrives at a small Node server on the redirect URI;
 *  - Node redeems the code with the secret (client_secret_basic) and calls /api/me: 200;
 *  - the user opens /o/authorized_tokens/, sees the application, clicks Revoke and confirms;
 *  - the access token is refused at /api/me (401) and the refresh token gets invalid_grant.
 *
 * With SCREENSHOTS=1 each page visited is saved as a PNG in docs/screenshots/ (800×900 viewport,
 * the secret covered first); without it nothing is written into the repository.
 */
import { createHash, randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHROMIUM, haveChromium, launchChromium, type LaunchedChromium } from "./support/chromium";
import { screenshots } from "./support/screenshots";
import { useServer, type CreatedUser } from "./support/server";

if (!haveChromium) {
  console.warn(`browser-account.test.ts skipped: ${CHROMIUM} is missing (install it: apt-get update && apt-get install -y chromium)`);
}

const title = haveChromium ? "account pages in chromium" : `account pages in chromium (SKIPPED: ${CHROMIUM} is missing; apt-get install -y chromium)`;

const b64url = (buffer: Buffer) => buffer.toString("base64url");

describe.skipIf(!haveChromium)(title, () => {
  const server = useServer();
  let callbackServer: Server;
  let redirectUri: string;
  let user: CreatedUser;
  let browser: LaunchedChromium | undefined;
  let context: BrowserContext;
  let page: Page;
  const screens = screenshots(() => page);
  const shot = screens.shot;


  beforeAll(async () => {
    // The application's redirect URI: a page that only says the code arrived (the test reads the
    // code from the browser's URL).
    callbackServer = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
      res.end(`<!doctype html><meta charset="utf-8"><title>callback</title><h1>Callback received</h1>`);
    });
    await new Promise<void>((resolve) => callbackServer.listen(0, "127.0.0.1", resolve));
    redirectUri = `http://127.0.0.1:${(callbackServer.address() as { port: number }).port}/cb`;

    user = await server().createUser("ada");

    browser = await launchChromium({ viewport: { width: 800, height: 900 }, navigationTimeout: 45_000 });
    ({ context, page } = browser);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => (callbackServer ? callbackServer.close(resolve) : resolve(undefined)));
    screens.report();
  });

  const text = async (selector: string) => (await page.innerText(selector)).replace(/\s+/g, " ").trim();

  it(
    "registers an application, uses it, sees it under authorized tokens, revokes it, and its tokens stop working",
    async () => {
      const base = server().base;
      const issuer = server().issuer;

      // 1. The applications page sends a visitor to the login page, and back after signing in.
      await page.goto(`${base}/o/applications/`);
      await page.waitForURL((url) => url.pathname === "/o/login/");
      expect(new URL(page.url()).searchParams.get("next")).toBe("/o/applications/");
      await page.waitForSelector("#username");
      await shot("01-login");
      await page.locator("#username").pressSequentially(user.username);
      await page.locator("#password").pressSequentially(user.password);
      await Promise.all([page.waitForURL((url) => url.pathname === "/o/applications/"), page.click("button[type=submit]")]);

      // 2. The (empty) list of the user's applications.
      expect(await text("h1")).toBe("Your applications");
      expect(await text("main")).toContain(`Signed in as ${user.username}.`);
      expect(await text("main")).toContain("You have not registered any application yet.");
      await shot("02-applications-empty");

      // 3. The register form: a confidential application for a server on loopback.
      await Promise.all([
        page.waitForURL((url) => url.pathname === "/o/applications/register/"),
        page.click("text=Register a new application"),
      ]);
      expect(await text("h1")).toBe("Register an application");
      await page.locator("#name").pressSequentially("Ada's reading list");
      await page.check("input[name=client_type][value=confidential]");
      await page.check("input[name=grant_authorization_code]");
      await page.check("input[name=grant_refresh_token]");
      expect(await page.isChecked("input[name=grant_client_credentials]")).toBe(false);
      await page.locator("#redirect_uris").pressSequentially(redirectUri);
      await page.locator("#scope").pressSequentially("read");
      await shot("03-register-form");
      const registered = page.waitForResponse(
        (res) => new URL(res.url()).pathname === "/o/applications/register/" && res.request().method() === "POST",
      );
      await page.click("button[type=submit]");
      expect((await registered).status()).toBe(200);
      await page.waitForSelector("#client-secret");

      // 4. The new application's page, with its secret shown this once.
      expect(await text("h1")).toBe("Ada's reading list");
      expect(await text(".secret")).toContain("Client secret, shown only now: copy it and store it safely.");
      const clientSecret = (await text("#client-secret"))!;
      expect(clientSecret.length).toBeGreaterThanOrEqual(32);
      const detailList = await text("dl.app");
      expect(detailList).toContain("Client type confidential");
      expect(detailList).toContain("Grant types authorization_code refresh_token");
      expect(detailList).toContain(`Redirect URIs ${redirectUri}`);
      expect(detailList).toContain("Scopes read");
      const clientId = (await text("dl.app dd code"))!;
      expect(clientId).toMatch(/^\S{16,}$/);
      if (screens.enabled) {
        // Never a real-looking secret in the docs: the shot shows a placeholder of the same layout.
        await page.evaluate(() => {
          document.getElementById("client-secret")!.textContent = "•••••••• (the secret is shown here once) ••••••••";
        });
        await shot("04-application-created-secret");
      }

      // 5. The list names it; its own page no longer shows the secret.
      await page.goto(`${base}/o/applications/`);
      expect(await text("ul.apps")).toContain("Ada's reading list confidential, registered");
      await shot("05-applications-list");
      await Promise.all([
        page.waitForURL((url) => url.pathname === `/o/applications/${encodeURIComponent(clientId)}/`),
        page.click("text=Ada's reading list"),
      ]);
      expect(await text("h1")).toBe("Ada's reading list");
      expect(await page.$("#client-secret")).toBeNull();
      expect(await text("main")).toContain("Rotate the secret");
      await shot("06-application-detail");

      // 6. An authorization code flow with PKCE for it, in the same browser.
      const verifier = b64url(randomBytes(32));
      const challenge = b64url(createHash("sha256").update(verifier).digest());
      const state = b64url(randomBytes(16));
      const authorize = new URL(`${issuer}/authorize/`);
      authorize.search = new URLSearchParams({
        response_type: "code", client_id: clientId, redirect_uri: redirectUri, scope: "read",
        state, code_challenge: challenge, code_challenge_method: "S256",
      }).toString();
      await page.goto(authorize.href);
      expect(new URL(page.url()).pathname).toBe("/o/authorize/");
      expect(await text("h1")).toContain("Ada's reading list");
      expect(await text("ul.scopes")).toContain("Read your data");
      await shot("07-consent");
      await Promise.all([
        page.waitForURL((url) => url.href.startsWith(redirectUri)),
        page.click("button[name=allow]"),
      ]);
      const callback = new URL(page.url());
      expect(await text("h1")).toBe("Callback received");
      expect(callback.searchParams.get("state")).toBe(state);
      expect(callback.searchParams.get("iss")).toBe(issuer);
      const code = callback.searchParams.get("code");
      expect(code).toBeTruthy();

      // 7. The application's server redeems the code with its secret and calls the API.
      const basic = `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString("base64")}`;
      const tokenRes = await fetch(`${issuer}/token/`, {
        method: "POST",
        headers: { authorization: basic, "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ grant_type: "authorization_code", code: code!, redirect_uri: redirectUri, code_verifier: verifier }),
      });
      const tokens = (await tokenRes.json()) as Record<string, unknown>;
      expect(tokenRes.status, JSON.stringify(tokens)).toBe(200);
      expect(tokens).toMatchObject({ token_type: "Bearer", scope: "read", access_token: expect.any(String), refresh_token: expect.any(String) });
      const callApi = () => fetch(`${base}/api/me`, { headers: { authorization: `Bearer ${tokens.access_token as string}` } });
      const me = await callApi();
      expect(me.status).toBe(200);
      expect(await me.json()).toEqual({ sub: user.id, client_id: clientId, scope: "read" });

      // 8. Authorized applications: it is listed with its scope; Revoke asks first.
      await page.goto(`${base}/o/authorized_tokens/`);
      expect(await text("h1")).toBe("Authorized applications");
      const listed = await text("ul.apps > li");
      expect(listed).toContain("Ada's reading list");
      expect(listed).toContain(`Client ID ${clientId}`);
      expect(listed).toContain("Read your data (read)");
      expect(listed).toMatch(/Authorized \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
      await shot("08-authorized-tokens");
      await Promise.all([
        page.waitForURL((url) => url.pathname === `/o/authorized_tokens/${encodeURIComponent(clientId)}/delete/`),
        page.getByRole("button", { name: "Revoke Ada's reading list" }).click(),
      ]);
      expect(await text("h1")).toBe("Revoke Ada's reading list?");
      expect(await text("main")).toContain("Ada's reading list will no longer be able to use your account");
      await shot("09-revoke-confirm");
      await Promise.all([
        page.waitForURL((url) => url.pathname === "/o/authorized_tokens/" && url.searchParams.has("revoked")),
        page.click("button:has-text('Revoke access')"),
      ]);
      expect(await text(".notice")).toBe("Access revoked: that application can no longer use your account.");
      expect(await text("main")).toContain("You have not authorized any application.");
      await shot("10-authorized-tokens-revoked");

      // 9. Its tokens stop working: the access token at the API, the refresh token at the token endpoint.
      const after = await callApi();
      expect(after.status).toBe(401);
      expect(after.headers.get("www-authenticate")).toMatch(/^Bearer .*error="invalid_token"/);
      const refreshRes = await fetch(`${issuer}/token/`, {
        method: "POST",
        headers: { authorization: basic, "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: tokens.refresh_token as string }),
      });
      expect(refreshRes.status).toBe(400);
      expect(await refreshRes.json()).toMatchObject({ error: "invalid_grant" });

      for (const { path, bytes } of screens.sizes()) expect(bytes, path).toBeLessThan(150_000);
    },
    180_000,
  );
});
