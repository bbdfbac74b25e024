/**
 * OpenID Connect Session Management 1.0 with a real relying party library in a real browser:
 * oidc-client-ts's browser build (`UserManager`, its session monitor and CheckSessionIFrame) on a
 * page served by a small Node server on another loopback port, against `wrangler dev`, in Debian's
 * chromium (playwright-core). The RP signs in with the code flow and PKCE, asks
 * `querySessionStatus()`, and its session monitor polls our check_session_iframe every second;
 * when the user signs out at the provider in another tab, the iframe answers "changed" and the
 * monitor raises `userSignedOut`. The iframe is also asked directly: "unchanged", "changed", "error".
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer, type Server } from "node:http";
import { dirname, join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHROMIUM, haveChromium, launchChromium, type LaunchedChromium } from "./support/chromium";
import { useServer, type CreatedClient, type CreatedUser } from "./support/server";

const LIBRARY = join(dirname(createRequire(import.meta.url).resolve("oidc-client-ts/package.json")), "dist/browser/oidc-client-ts.js");

if (!haveChromium) console.warn(`interop-session-management.test.ts skipped: ${CHROMIUM} is missing`);

/** What the RP page exposes to the test (declared for page.evaluate). */
interface RpWindow {
  mgr: {
    getUser(): Promise<{ session_state: string | null; profile: { sub: string } } | null>;
    querySessionStatus(): Promise<{ session_state: string; sub?: string } | null>;
  };
  signedOutEvents: number;
  /** Posts `message` to a check-session iframe of the page's own and resolves with its answer. */
  askCheckSession(message: string): Promise<string>;
}

describe.skipIf(!haveChromium)("Session Management with oidc-client-ts in chromium", () => {
  const server = useServer();
  let rp: Server;
  let rpOrigin: string;
  let client: CreatedClient;
  let user: CreatedUser;
  let browser: LaunchedChromium | undefined;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    const library = readFileSync(LIBRARY, "utf8");
    rp = createServer((req, res) => {
      const { pathname } = new URL(req.url ?? "/", rpOrigin);
      const send = (type: string, body: string) => {
        res.writeHead(200, { "content-type": `${type}; charset=utf-8`, "cache-control": "no-store" });
        res.end(body);
      };
      if (pathname === "/oidc-client-ts.js") send("text/javascript", library);
      else if (["/", "/callback", "/silent", "/app"].includes(pathname)) send("text/html", rpPage(pathname));
      else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((resolve) => rp.listen(0, "127.0.0.1", resolve));
    rpOrigin = `http://127.0.0.1:${(rp.address() as { port: number }).port}`;
    [client, user] = await Promise.all([
      server().createClient({
        name: "Session RP",
        type: "public",
        grantTypes: ["authorization_code"],
        redirectUris: [`${rpOrigin}/callback`, `${rpOrigin}/silent`],
        allowedOrigins: [rpOrigin],
        scope: "openid profile",
        skipConsent: true,
      }),
      server().createUser("session"),
    ]);
    browser = await launchChromium();
    ({ context, page } = browser);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => (rp ? rp.close(resolve) : resolve(undefined)));
  });

  /** The RP: one UserManager configuration; each path runs its step of the flow. */
  function rpPage(pathname: string): string {
    const settings = {
      authority: server().issuer,
      client_id: client.client_id,
      redirect_uri: `${rpOrigin}/callback`,
      silent_redirect_uri: `${rpOrigin}/silent`,
      response_type: "code",
      scope: "openid",
      loadUserInfo: false,
      automaticSilentRenew: false,
      monitorSession: pathname === "/app",
      checkSessionIntervalInSeconds: 1,
    };
    const step: Record<string, string> = {
      "/": "mgr.signinRedirect();",
      "/callback": 'mgr.signinRedirectCallback().then(() => location.replace("/app"), (e) => { document.body.textContent = String(e); });',
      "/silent": "mgr.signinCallback();",
      "/app": `window.signedOutEvents = 0;
mgr.events.addUserSignedOut(() => { window.signedOutEvents += 1; });
window.askCheckSession = async (message) => {
  const url = (await mgr.metadataService.getCheckSessionIframe());
  const frame = document.createElement("iframe");
  frame.src = url;
  await new Promise((resolve) => { frame.onload = resolve; document.body.append(frame); });
  try {
    return await new Promise((resolve) => {
      addEventListener("message", function answer(event) {
        if (event.source !== frame.contentWindow) return;
        removeEventListener("message", answer);
        resolve(event.data);
      });
      frame.contentWindow.postMessage(message, new URL(url).origin);
    });
  } finally {
    frame.remove();
  }
};`,
    };
    return `<!doctype html><html><head><meta charset="utf-8"><title>RP ${pathname}</title></head><body>
<script src="/oidc-client-ts.js"></script>
<script>
const settings = ${JSON.stringify(settings)};
settings.userStore = new oidc.WebStorageStateStore({ store: localStorage });
window.mgr = new oidc.UserManager(settings);
${step[pathname]}
</script></body></html>`;
  }

  it("signs in, queries the session, and the monitor sees the user sign out at the provider", async () => {
    await page.goto(`${rpOrigin}/`);
    await page.waitForURL((url) => url.pathname === "/o/login/");
    await page.fill("#username", user.username);
    await page.fill("#password", user.password);
    await Promise.all([page.waitForURL(`${rpOrigin}/app`), page.click("button[type=submit]")]);

    const signedIn = await page.evaluate(() => (window as unknown as RpWindow).mgr.getUser());
    expect(signedIn?.profile.sub).toBe(user.id);
    const sessionState = signedIn!.session_state!;
    expect(sessionState).toMatch(/^[0-9a-f]{64}\.[A-Za-z0-9_-]+$/);

    // querySessionStatus: prompt=none in a hidden iframe, which needs session_state in the answer.
    const status = await page.evaluate(() => (window as unknown as RpWindow).mgr.querySessionStatus());
    expect(status?.sub).toBe(user.id);
    expect(status?.session_state).toMatch(/^[0-9a-f]{64}\./);

    // The iframe's answers, asked directly.
    const ask = (message: string) => page.evaluate((m) => (window as unknown as RpWindow).askCheckSession(m), message);
    expect(await ask(`${client.client_id} ${sessionState}`)).toBe("unchanged");
    expect(await ask(`${client.client_id} ${status!.session_state}`)).toBe("unchanged");
    expect(await ask(`other-client ${sessionState}`)).toBe("changed");
    expect(await ask("no session state here")).toBe("error");

    // The monitor polls every second; while the user stays signed in it raises nothing.
    await page.waitForTimeout(2_500);
    expect(await page.evaluate(() => (window as unknown as RpWindow).signedOutEvents)).toBe(0);

    // The user signs out at the provider in another tab of the same browser.
    const other = await context.newPage();
    await other.goto(`${server().issuer}/logout/`);
    await Promise.all([other.waitForLoadState("load"), other.click("button[name=logout]")]);
    await expect.poll(() => other.textContent("h1")).toContain("Signed out");
    await other.close();

    expect(await ask(`${client.client_id} ${sessionState}`)).toBe("changed");
    await page.waitForFunction(() => (window as unknown as RpWindow).signedOutEvents > 0, undefined, { timeout: 15_000 });
    const after = await page.evaluate(() =>
      (window as unknown as RpWindow).mgr.querySessionStatus().then(
        () => "answered",
        (error: { error?: string }) => error.error ?? String(error),
      ),
    );
    expect(after).toBe("login_required");
  }, 60_000);
});
