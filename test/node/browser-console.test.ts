/**
 * The operator console in a real browser (Debian's chromium through playwright-core; no browser is
 * ever downloaded), against `wrangler dev` with OPERATOR_CONSOLE on:
 *
 *  - a user signs in once (it works), and signs out;
 *  - the operator opens /o/admin/, is sent to the login page, signs in and lands on the overview;
 *  - registers a client from the console form (the secret shown once) and sees it in the list;
 *  - opens Users, the user's page, clicks "Disable this user": the page says so;
 *  - the Events page lists user.disabled with the operator's name; the keys page lists the keys;
 *  - in a fresh browser the user's next sign-in fails with the same message as a wrong password.
 *
 * With SCREENSHOTS=1 each console page is saved in docs/screenshots/ (800×900 viewport, the
 * secret covered first); without it nothing is written into the repository.
 */
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHROMIUM, haveChromium, launchChromium, type LaunchedChromium } from "./support/chromium";
import { screenshots } from "./support/screenshots";
import { PASSWORD, useServer, type CreatedUser } from "./support/server";

if (!haveChromium) {
  console.warn(`browser-console.test.ts skipped: ${CHROMIUM} is missing (install it: apt-get update && apt-get install -y chromium)`);
}

const title = haveChromium ? "operator console in chromium" : `operator console in chromium (SKIPPED: ${CHROMIUM} is missing; apt-get install -y chromium)`;

describe.skipIf(!haveChromium)(title, () => {
  const server = useServer({ vars: { OPERATOR_CONSOLE: "true" } });
  let operator: { username: string };
  let user: CreatedUser;
  let browser: LaunchedChromium | undefined;
  let page: Page;
  const screens = screenshots(() => page);
  const shot = screens.shot;


  beforeAll(async () => {
    const username = `grace${Date.now().toString(36)}`;
    await server().admin(["user", "create", "--username", username, "--password", PASSWORD, "--operator"]);
    operator = { username };
    user = await server().createUser("ada");
    browser = await launchChromium({ viewport: { width: 800, height: 900 }, navigationTimeout: 45_000 });
    ({ page } = browser);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    screens.report();
  });

  const text = async (selector: string, on: Page = page) => (await on.innerText(selector)).replace(/\s+/g, " ").trim();

  /** Signs in on the login page `on` shows, typing as a person would; resolves once the form is sent. */
  async function typeSignIn(on: Page, username: string, password: string, landing: (url: URL) => boolean) {
    await on.waitForSelector("#username");
    await on.locator("#username").fill("");
    await on.locator("#username").pressSequentially(username);
    await on.locator("#password").pressSequentially(password);
    await Promise.all([on.waitForURL(landing), on.click("button[type=submit]")]);
  }

  /** A fresh browser context (no cookies) signing `who` in at the login page: the page it ends on. */
  async function freshSignIn(username: string, password: string): Promise<string> {
    const other = await browser!.context.browser()?.newContext();
    const fresh = other ? await other.newPage() : await browser!.context.newPage();
    try {
      await fresh.goto(`${server().issuer}/login/`);
      const answered = fresh.waitForResponse((res) => new URL(res.url()).pathname === "/o/login/" && res.request().method() === "POST");
      await fresh.locator("#username").pressSequentially(username);
      await fresh.locator("#password").pressSequentially(password);
      await fresh.click("button[type=submit]");
      await answered;
      await fresh.waitForSelector("h1");
      return await text("main", fresh);
    } finally {
      await (other ? other.close() : fresh.close());
    }
  }

  it(
    "an operator registers a client, disables a user, sees it in the events; the user's next sign-in fails",
    async () => {
      const base = server().base;

      // 0. The user can sign in before (so the refusal at the end is the console's doing).
      expect(await freshSignIn(user.username, user.password)).toContain(`You are signed in as ${user.username}.`);

      // 1. The console sends the operator to the login page and back.
      await page.goto(`${base}/o/admin/`);
      await page.waitForURL((url) => url.pathname === "/o/login/");
      expect(new URL(page.url()).searchParams.get("next")).toBe("/o/admin/");
      await typeSignIn(page, operator.username, PASSWORD, (url) => url.pathname === "/o/admin/");
      expect(await text("h1")).toBe("Operator console");
      expect(await text("nav.console")).toContain(`Operator: ${operator.username}`);
      await shot("11-console-overview");

      // 2. Register a client from the console's form.
      await Promise.all([page.waitForURL((url) => url.pathname === "/o/admin/clients/"), page.click("nav.console >> text=Clients")]);
      await Promise.all([page.waitForURL((url) => url.pathname === "/o/admin/clients/new/"), page.click("text=Register a client")]);
      await page.locator("#name").pressSequentially("Reporting service");
      await page.check("input[name=client_type][value=confidential]");
      await page.uncheck("input[name=grant_authorization_code]");
      await page.uncheck("input[name=grant_refresh_token]");
      await page.check("input[name=grant_client_credentials]");
      await page.locator("#scope").pressSequentially("read");
      await page.selectOption("#token_endpoint_auth_method", "client_secret_basic");
      await shot("12-console-client-form");
      await page.click("button[type=submit]");
      await page.waitForSelector("#client-secret");
      const clientId = await text("#client-id");
      const clientSecret = await text("#client-secret");
      // The secret works at the token endpoint.
      const issued = await fetch(`${server().issuer}/token/`, {
        method: "POST",
        headers: { authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString("base64")}`, "content-type": "application/x-www-form-urlencoded" },
        body: "grant_type=client_credentials&scope=read",
      });
      expect(issued.status).toBe(200);
      if (screens.enabled) {
        await page.evaluate(() => {
          document.getElementById("client-secret")!.textContent = "•••••••• (the secret is shown here once) ••••••••";
        });
        await shot("13-console-client-created");
      }
      await page.click("nav.console >> text=Clients");
      await page.waitForURL((url) => url.pathname === "/o/admin/clients/");
      expect(await text("table")).toContain("Reporting service");
      await shot("14-console-clients");

      // 3. Users: the user's page, and Disable.
      await Promise.all([page.waitForURL((url) => url.pathname === "/o/admin/users/"), page.click("nav.console >> text=Users")]);
      expect(await text("table")).toContain(user.username);
      await shot("15-console-users");
      await Promise.all([page.waitForURL((url) => url.pathname === `/o/admin/users/${user.id}/`), page.click(`text=${user.username}`)]);
      expect(await text("#user-active")).toBe("yes");
      await shot("16-console-user");
      await Promise.all([page.waitForURL((url) => url.searchParams.get("done") === "user_disabled"), page.click("button:has-text('Disable this user')")]);
      expect(await text(".notice")).toContain("The user is disabled");
      expect(await text("#user-active")).toBe("no (cannot sign in)");

      // 4. Events name the operator; the keys page lists the server's keys.
      await Promise.all([page.waitForURL((url) => url.pathname === "/o/admin/events/"), page.click("nav.console >> text=Events")]);
      const events = await text("table");
      expect(events).toContain("user.disabled");
      expect(events).toContain(operator.username);
      expect(events).toContain("client.registered");
      await shot("17-console-events");
      await Promise.all([page.waitForURL((url) => url.pathname === "/o/admin/keys/"), page.click("nav.console >> text=Signing keys")]);
      expect(await text("table")).toMatch(/ES256 signs/);
      await shot("18-console-keys");

      // 5. The user's next sign-in fails, as a wrong password does (nothing tells an account is disabled).
      const refused = await freshSignIn(user.username, user.password);
      expect(refused).toContain("Invalid username or password.");

      for (const { path, bytes } of screens.sizes()) expect(bytes, path).toBeLessThan(150_000);
    },
    180_000,
  );

  it("every console page fits a phone's width, and every field has a label", async () => {
    await page.setViewportSize({ width: 360, height: 740 });
    try {
      const base = `${server().base}/o/admin`;
      for (const path of ["/", "/clients/", "/clients/new/", "/users/", "/users/new/", `/users/${user.id}/`, "/events/", "/keys/"]) {
        await page.goto(`${base}${path}`);
        expect(new URL(page.url()).pathname, path).toBe(`/o/admin${path}`);
        const layout = await page.evaluate(() => ({
          scrollWidth: document.documentElement.scrollWidth,
          width: window.innerWidth,
          unlabelled: Array.from(document.querySelectorAll("input:not([type=hidden]), select, textarea"))
            .filter((el) => (el as HTMLInputElement).labels?.length === 0 && !el.getAttribute("aria-label"))
            .map((el) => el.getAttribute("name")),
        }));
        expect(layout.scrollWidth, `${path} is wider than the phone`).toBeLessThanOrEqual(layout.width);
        expect(layout.unlabelled, path).toEqual([]);
      }
    } finally {
      await page.setViewportSize({ width: 800, height: 900 });
    }
  }, 90_000);
});
