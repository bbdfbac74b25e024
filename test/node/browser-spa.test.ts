/**
 * A single-page app in a real browser (Debian's chromium through playwright-core; no browser is
 * ever downloaded), against `wrangler dev`:
 *
 *  - the SPA (a page served by a small Node server on another loopback port) discovers the
 *    issuer, makes a PKCE pair with WebCrypto and sends the browser to the authorization endpoint;
 *  - the user signs in and authorizes in the browser;
 *  - back on the SPA's callback with `code`, `state` and `iss`, the page's script redeems the
 *    code at the token endpoint with `fetch` (cross-origin: CORS + PKCE, no secret) and calls
 *    /api/me with the access token; the test reads the result from the page.
 *
 * Also: the login page cannot be framed, and a screenshot of the consent page is written to the
 * system temp directory (not to the repository) to see that it renders.
 */
import { statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHROMIUM, haveChromium, launchChromium, type LaunchedChromium } from "./support/chromium";
import { useServer, type CreatedClient, type CreatedUser } from "./support/server";

if (!haveChromium) {
  console.warn(`browser-spa.test.ts skipped: ${CHROMIUM} is missing (install it: apt-get update && apt-get install -y chromium)`);
}

const title = haveChromium ? "SPA in chromium" : `SPA in chromium (SKIPPED: ${CHROMIUM} is missing; apt-get install -y chromium)`;

describe.skipIf(!haveChromium)(title, () => {
  const server = useServer();
  let spa: Server;
  let spaOrigin: string;
  let client: CreatedClient;
  let user: CreatedUser;
  let browser: LaunchedChromium | undefined;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    spa = createServer((req, res) => {
      const url = new URL(req.url ?? "/", spaOrigin);
      const send = (status: number, body: string) => {
        res.writeHead(status, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
        res.end(body);
      };
      if (url.pathname === "/start" || url.pathname === "/callback") {
        send(200, spaPage(url.pathname === "/start" ? "start" : "callback"));
      } else if (url.pathname === "/frame") {
        send(200, `<!doctype html><meta charset="utf-8"><title>framing</title><iframe id="f" src="${escapeHtml(url.searchParams.get("src") ?? "")}"></iframe>`);
      } else {
        send(404, "not found");
      }
    });
    await new Promise<void>((resolve) => spa.listen(0, "127.0.0.1", resolve));
    spaOrigin = `http://127.0.0.1:${(spa.address() as { port: number }).port}`;

    [client, user] = await Promise.all([
      server().createClient({
        name: "Browser SPA",
        type: "public",
        grantTypes: ["authorization_code"],
        redirectUris: [`${spaOrigin}/callback`],
        allowedOrigins: [spaOrigin],
        scope: "read",
      }),
      server().createUser("spa"),
    ]);

    browser = await launchChromium();
    ({ context, page } = browser);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => (spa ? spa.close(resolve) : resolve(undefined)));
  });

  /** The SPA: its configuration inline, and one script for both the start and the callback page. */
  function spaPage(mode: "start" | "callback"): string {
    const config = {
      mode,
      issuer: server().issuer,
      client_id: client.client_id,
      redirect_uri: `${spaOrigin}/callback`,
      api: `${server().base}/api/me`,
    };
    return `<!doctype html>
<html><head><meta charset="utf-8"><title>SPA ${mode}</title></head>
<body><h1>SPA</h1><pre id="result"></pre>
<script>
const config = ${JSON.stringify(config).replace(/</g, "\\u003c")};
const b64url = (buffer) => btoa(String.fromCharCode(...new Uint8Array(buffer))).replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
const random = (n) => b64url(crypto.getRandomValues(new Uint8Array(n)));
async function discover() {
  const res = await fetch(config.issuer + "/.well-known/openid-configuration");
  const metadata = await res.json();
  if (metadata.issuer !== config.issuer) throw new Error("issuer mismatch in discovery");
  return metadata;
}
async function start() {
  const metadata = await discover();
  const verifier = random(32);
  const state = random(16);
  const challenge = b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  sessionStorage.setItem("oauth", JSON.stringify({ verifier, state }));
  const url = new URL(metadata.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: "code", client_id: config.client_id, redirect_uri: config.redirect_uri, scope: "read",
    state, code_challenge: challenge, code_challenge_method: "S256",
  });
  location.assign(url.href);
}
async function callback() {
  const params = new URLSearchParams(location.search);
  const saved = JSON.parse(sessionStorage.getItem("oauth") || "{}");
  const out = { params: Object.fromEntries(params), step: "checks" };
  try {
    if (!saved.state || params.get("state") !== saved.state) throw new Error("state mismatch");
    if (params.get("iss") !== config.issuer) throw new Error("iss mismatch (RFC 9207)");
    if (params.has("error")) throw new Error("authorization error: " + params.get("error"));
    out.step = "discovery";
    const metadata = await discover();
    out.step = "token";
    const tokenRes = await fetch(metadata.token_endpoint, {
      method: "POST",
      body: new URLSearchParams({
        grant_type: "authorization_code", code: params.get("code"), redirect_uri: config.redirect_uri,
        client_id: config.client_id, code_verifier: saved.verifier,
      }),
    });
    out.token = { status: tokenRes.status, body: await tokenRes.json() };
    out.step = "api";
    const me = await fetch(config.api, { headers: { authorization: "Bearer " + out.token.body.access_token } });
    out.me = { status: me.status, body: await me.json() };
    // A redeemed code is single-use: replaying it fails (the browser sees the error body through CORS).
    out.step = "replay";
    const replay = await fetch(metadata.token_endpoint, {
      method: "POST",
      body: new URLSearchParams({
        grant_type: "authorization_code", code: params.get("code"), redirect_uri: config.redirect_uri,
        client_id: config.client_id, code_verifier: saved.verifier,
      }),
    });
    out.replay = { status: replay.status, body: await replay.json() };
    // RFC 6749 §4.1.2: the tokens issued from a code used twice are revoked.
    out.step = "api after replay";
    const after = await fetch(config.api, { headers: { authorization: "Bearer " + out.token.body.access_token } });
    out.meAfterReplay = { status: after.status, challenge: after.headers.get("www-authenticate") };
    out.step = "done";
  } catch (error) {
    out.error = out.step + ": " + String(error);
  }
  const result = document.getElementById("result");
  result.textContent = JSON.stringify(out, null, 2);
  result.dataset.done = "1";
}
(config.mode === "start" ? start() : callback()).catch((error) => {
  document.getElementById("result").textContent = JSON.stringify({ error: String(error) });
  document.getElementById("result").dataset.done = "1";
});
</script></body></html>`;
  }

  it("signs in, consents, redeems the code from the page (CORS + PKCE) and calls the API", async () => {
    const loginResponse = page.waitForResponse((res) => new URL(res.url()).pathname === "/o/login/" && res.request().method() === "GET");
    await page.goto(`${spaOrigin}/start`);
    await page.waitForURL((url) => url.pathname === "/o/login/");
    const loginHeaders = (await loginResponse).headers();
    expect(loginHeaders["x-frame-options"]).toBe("DENY");
    expect(loginHeaders["content-security-policy"]).toMatch(/frame-ancestors 'none'/);

    await page.fill("#username", user.username);
    await page.fill("#password", user.password);
    await Promise.all([page.waitForURL((url) => url.pathname === "/o/authorize/"), page.click("button[type=submit]")]);

    // The consent page: it names the client and the scope; a screenshot shows it renders.
    await expect.poll(() => page.textContent("h1")).toContain("Browser SPA");
    expect(await page.textContent("ul.scopes")).toContain("Read your data");
    const screenshot = join(tmpdir(), "eot-browser-spa-consent.png");
    await page.screenshot({ path: screenshot, fullPage: true });
    expect(statSync(screenshot).size).toBeGreaterThan(5_000);
    console.log(`consent page screenshot: ${screenshot}`);

    await Promise.all([page.waitForURL((url) => url.origin === spaOrigin && url.pathname === "/callback"), page.click("button[name=allow]")]);
    const callback = new URL(page.url());
    expect(callback.searchParams.get("code")).toBeTruthy();
    expect(callback.searchParams.get("state")).toBeTruthy();
    expect(callback.searchParams.get("iss")).toBe(server().issuer);

    await page.waitForSelector("#result[data-done]");
    const result = JSON.parse((await page.textContent("#result"))!) as {
      error?: string;
      step: string;
      token?: { status: number; body: Record<string, unknown> };
      me?: { status: number; body: Record<string, unknown> };
      replay?: { status: number; body: Record<string, unknown> };
      meAfterReplay?: { status: number; challenge: string | null };
    };
    expect(result.error).toBeUndefined();
    expect(result.step).toBe("done");
    expect(result.token).toMatchObject({ status: 200, body: { token_type: "Bearer", scope: "read", access_token: expect.any(String) } });
    // Public client: no refresh token unless it registered the refresh_token grant.
    expect(result.token!.body.refresh_token).toBeUndefined();
    expect(result.me).toEqual({ status: 200, body: { sub: user.id, client_id: client.client_id, scope: "read" } });
    expect(result.replay).toMatchObject({ status: 400, body: { error: "invalid_grant" } });
    // The 401's challenge is readable cross-origin (Access-Control-Expose-Headers).
    expect(result.meAfterReplay).toEqual({ status: 401, challenge: expect.stringMatching(/^Bearer .*error="invalid_token"/) });
  });

  it("the login page cannot be framed by another origin", async () => {
    const login = `${server().base}/o/login/`;
    await page.goto(`${spaOrigin}/frame?src=${encodeURIComponent(login)}`);
    // goto waits for the load event, which waits for the frame: loaded, or blocked and replaced
    // by the browser's error page (X-Frame-Options: DENY / CSP frame-ancestors 'none').
    const frame = await (await page.waitForSelector("#f")).contentFrame();
    expect(frame).not.toBeNull();
    expect(frame!.url()).toMatch(/^chrome-error:/);
    expect(await frame!.$("#username")).toBeNull();
  });
});

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
