import { createExecutionContext, createScheduledController, env, SELF, waitOnExecutionContext } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { decodeJwt, decodeProtectedHeader, jwtVerify } from "jose";
import { describe, expect, it } from "vitest";
import { CONTROL_ORIGIN, type FetchRecord, type ScriptedDocument } from "../cimd-document-server";
import { sessionClients, sessions } from "../../src/db/schema";
import { clearExpired } from "../../src/db/cleanup";
import { parseSettings } from "../../src/core/settings";
import worker from "../../src/index";
import { createProvider } from "../../src/provider";
import { Browser, hiddenFields, redirectParams } from "./support/browser";
import { db, ISSUER } from "./support/helpers";
import { authorizeUrl, exchangeCode, PASSWORD, REDIRECT, unique, VERIFIER } from "./support/flow";
import { AppBrowser, expectOidcTokens, oidcClient, oidcRequest, oidcUser, publishedKeys, signedInOidc } from "./support/oidc-helpers";
import { registerUser } from "../../src/db/registration";
import { endUserAccess } from "../../src/tokens/operator-actions";

/**
 * OpenID Connect Back-Channel Logout 1.0 and Front-Channel Logout 1.0: the clients a session signed
 * in to are told when it ends. Back-channel logout URIs live on the fake server of
 * test/cimd-document-server.ts (hosts under .cimd.test), which records what was POSTed to them.
 */

const EVENT = "http://schemas.openid.net/event/backchannel-logout";
const BYE = "https://app.example.com/signed-out";

/** A back-channel logout URI on the fake server, answering `status`. */
async function logoutEndpoint(status = 200): Promise<string> {
  const url = `https://${unique("rp-")}.cimd.test/backchannel-logout`;
  await script(url, { body: "", status, contentType: "text/plain" });
  return url;
}

async function script(url: string, doc: ScriptedDocument): Promise<void> {
  const res = await fetch(`${CONTROL_ORIGIN}/documents?url=${encodeURIComponent(url)}`, { method: "PUT", body: JSON.stringify(doc) });
  expect(res.status).toBe(204);
}

const recordOf = async (url: string) => (await fetch(`${CONTROL_ORIGIN}/documents?url=${encodeURIComponent(url)}`)).json<FetchRecord>();

/** Waits for the deliveries made after a response (waitUntil) to reach `count`. */
async function delivered(url: string, count = 1, timeoutMs = 8_000): Promise<FetchRecord> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const record = await recordOf(url);
    if (record.count >= count || Date.now() > until) return record;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const rowsOf = (sid: string) => db().select().from(sessionClients).where(eq(sessionClients.sid, sid));

/** Signs in through the code flow with openid: the client's tokens, and the session's sid from the ID token. */
async function signIn(browser: Browser, client: { clientId: string; clientSecret: string | null }, extra: Record<string, string> = {}) {
  const res = await browser.get(authorizeUrl(oidcRequest(client.clientId, extra)));
  const code = redirectParams(res).get("code");
  expect(code, res.headers.get("location") ?? "").toBeTruthy();
  const tokens = await expectOidcTokens(await exchangeCode(client as { clientId: string; clientSecret: string }, code!, { code_verifier: VERIFIER }));
  return { tokens, claims: decodeJwt(tokens.id_token) };
}

/** RP-initiated logout, confirmed as the Sign out button does. */
async function logOut(browser: Browser, params: Record<string, string> = {}): Promise<Response> {
  const page = await browser.get(`/o/logout/?${new URLSearchParams(params)}`);
  expect(page.status).toBe(200);
  return browser.post("/o/logout/", { ...hiddenFields(await page.text()), logout: "yes" });
}

/** The logout token POSTed to `url`, checked as an RP must (Back-Channel Logout 1.0 §2.6). */
async function expectLogoutToken(url: string, clientId: string) {
  const record = await delivered(url);
  expect(record).toMatchObject({ count: 1, method: "POST", contentType: "application/x-www-form-urlencoded" });
  const token = new URLSearchParams(record.body).get("logout_token")!;
  expect(decodeProtectedHeader(token).typ).toBe("logout+jwt");
  const { payload } = await jwtVerify(token, await publishedKeys(), { issuer: ISSUER, audience: clientId, typ: "logout+jwt" });
  expect(payload.events).toEqual({ [EVENT]: {} });
  expect(payload.nonce).toBeUndefined();
  expect(payload.jti).toBeTypeOf("string");
  expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(120);
  return payload;
}

describe("back-channel logout", () => {
  it("signing out sends each client of the session a logout token with its sub and the session's sid", async () => {
    const uri = await logoutEndpoint();
    const client = await oidcClient({ backchannelLogoutUri: uri, postLogoutRedirectUris: [BYE] });
    const { browser, id } = await signedInOidc();
    const { claims } = await signIn(browser, client);
    expect(await rowsOf(claims.sid as string)).toHaveLength(1);
    expect((await recordOf(uri)).count).toBe(0);

    const res = await logOut(browser, { client_id: client.clientId, post_logout_redirect_uri: BYE });
    expect(res.status).toBe(303);
    const payload = await expectLogoutToken(uri, client.clientId);
    expect(payload).toMatchObject({ sub: id, sid: claims.sid });
    await delivered(uri, 2, 300); // nothing more arrives
    expect((await recordOf(uri)).count).toBe(1);
    expect(await rowsOf(claims.sid as string)).toHaveLength(0);
  });

  it("a pairwise client gets the sub its ID tokens carry", async () => {
    const uri = await logoutEndpoint();
    const client = await oidcClient({ backchannelLogoutUri: uri, subjectType: "pairwise" });
    const { browser, id } = await signedInOidc();
    const { claims } = await signIn(browser, client);
    expect(claims.sub).not.toBe(id);
    await logOut(browser);
    expect(await expectLogoutToken(uri, client.clientId)).toMatchObject({ sub: claims.sub, sid: claims.sid });
  });

  it("an implicit ID token counts as signing in; a request without openid, or a client without a logout URI, records nothing", async () => {
    const uri = await logoutEndpoint();
    const client = await oidcClient({ backchannelLogoutUri: uri });
    const plain = await oidcClient();
    const { browser } = await signedInOidc();
    const implicit = redirectParams(await browser.get(authorizeUrl(oidcRequest(client.clientId, { response_type: "id_token" }))));
    const sid = decodeJwt(implicit.get("id_token")!).sid as string;
    await signIn(browser, plain);
    const code = redirectParams(await browser.get(authorizeUrl(oidcRequest(client.clientId, { scope: "read" })))).get("code")!;
    expect((await exchangeCode(client as { clientId: string; clientSecret: string }, code, { code_verifier: VERIFIER })).status).toBe(200);
    expect((await rowsOf(sid)).map((row) => row.clientId)).toEqual([client.clientId]);
    await logOut(browser);
    expect((await expectLogoutToken(uri, client.clientId)).sid).toBe(sid);
  });

  it("another user signing in ends the browser's previous session: its clients are told", async () => {
    const uri = await logoutEndpoint();
    const client = await oidcClient({ backchannelLogoutUri: uri });
    const { browser, id } = await signedInOidc();
    const { claims } = await signIn(browser, client);
    const other = await oidcUser();
    expect((await browser.login(other.username, PASSWORD)).status).toBe(200);
    expect(await expectLogoutToken(uri, client.clientId)).toMatchObject({ sub: id, sid: claims.sid });
  });

  it("the same user signing in again (prompt=login) logs nobody out: the new session holds the old sid, told at its end", async () => {
    const first = await logoutEndpoint();
    const second = await logoutEndpoint();
    const before = await oidcClient({ backchannelLogoutUri: first });
    const after = await oidcClient({ backchannelLogoutUri: second });
    const { browser, id, username } = await signedInOidc();
    const old = (await signIn(browser, before)).claims.sid as string;
    expect((await browser.login(username, PASSWORD)).status).toBe(200);
    const renewed = (await signIn(browser, after)).claims.sid as string;
    expect(renewed).not.toBe(old);
    expect((await delivered(first, 1, 500)).count).toBe(0);
    expect((await rowsOf(old))[0]).toMatchObject({ sessionId: renewed, clientId: before.clientId });

    await logOut(browser);
    expect(await expectLogoutToken(first, before.clientId)).toMatchObject({ sub: id, sid: old });
    expect(await expectLogoutToken(second, after.clientId)).toMatchObject({ sub: id, sid: renewed });
  });

  it("signing in again after the session was ended elsewhere does not take over the logout tokens it still owes", async () => {
    const uri = await logoutEndpoint(503);
    const client = await oidcClient({ backchannelLogoutUri: uri });
    const { browser, id, username } = await signedInOidc();
    const sid = (await signIn(browser, client)).claims.sid as string;
    await endUserAccess({ db: db(), kv: env.KV }, id, parseSettings({}), false);
    expect((await browser.login(username, PASSWORD)).status).toBe(200);
    expect((await rowsOf(sid))[0]!.sessionId).toBe(sid);
  });

  it("a client that fails is tried three times after the response, then by the cron until it answers", async () => {
    const uri = await logoutEndpoint(503);
    const client = await oidcClient({ backchannelLogoutUri: uri });
    const { browser } = await signedInOidc();
    const { claims } = await signIn(browser, client);
    await logOut(browser);
    expect((await delivered(uri, 3, 10_000)).count).toBe(3);
    await waitForRow(claims.sid as string, (rows) => rows[0]?.logoutAttempts === 1);

    await script(uri, { body: "", status: 200, contentType: "text/plain" });
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: "17 * * * *" }), env as never, ctx);
    await waitOnExecutionContext(ctx);
    expect(await expectLogoutToken(uri, client.clientId)).toMatchObject({ sid: claims.sid });
    expect(await rowsOf(claims.sid as string)).toHaveLength(0);
  }, 20_000);

  it("a redirect is not followed, and counts as a failure", async () => {
    const uri = await logoutEndpoint();
    const target = await logoutEndpoint();
    await script(uri, { body: "", status: 307, headers: { location: target } });
    const client = await oidcClient({ backchannelLogoutUri: uri });
    const { browser } = await signedInOidc();
    const { claims } = await signIn(browser, client);
    await logOut(browser);
    await waitForRow(claims.sid as string, (rows) => rows[0]?.logoutAttempts === 1);
    expect((await recordOf(uri)).count).toBe(3);
    expect((await recordOf(target)).count).toBe(0);
  }, 20_000);

  it("a session that expires is no logout: cleanup forgets its clients without telling them", async () => {
    const uri = await logoutEndpoint();
    const client = await oidcClient({ backchannelLogoutUri: uri });
    const { browser } = await signedInOidc();
    const { claims } = await signIn(browser, client);
    const sid = claims.sid as string;
    await db().update(sessions).set({ expiresAt: 1 }).where(eq(sessions.id, sid));
    await clearExpired(db(), parseSettings({}));
    expect(await rowsOf(sid)).toHaveLength(0);
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: "17 * * * *" }), env as never, ctx);
    await waitOnExecutionContext(ctx);
    expect((await recordOf(uri)).count).toBe(0);
  });

  it("an operator's console action tells the user's clients at once; the CLI's are delivered by the cron", async () => {
    const app = createProvider({ settings: { OPERATOR_CONSOLE: true } });
    const operator = await registerUser(db(), { username: unique("op"), password: PASSWORD, operator: true });
    const operatorBrowser = new AppBrowser(app);
    expect((await operatorBrowser.login(operator.username, PASSWORD)).status).toBe(200);
    const viaConsole = await logoutEndpoint();
    const viaCli = await logoutEndpoint();
    const consoleClient = await oidcClient({ backchannelLogoutUri: viaConsole });
    const cliClient = await oidcClient({ backchannelLogoutUri: viaCli });

    const first = await signedInOidc();
    const { claims } = await signIn(first.browser, consoleClient);
    const userPage = `/o/admin/users/${first.id}/`;
    const page = await operatorBrowser.get(userPage);
    expect(page.status).toBe(200);
    expect((await operatorBrowser.post(`${userPage}disable/`, hiddenFields(await page.text()))).status).toBe(303);
    expect(await expectLogoutToken(viaConsole, consoleClient.clientId)).toMatchObject({ sub: first.id, sid: claims.sid });

    // `npm run admin -- user signout NAME` runs this in Node, with no Worker to deliver: the cron does.
    const second = await signedInOidc();
    await signIn(second.browser, cliClient);
    await endUserAccess({ db: db(), kv: env.KV }, second.id, parseSettings({}), false);
    expect((await delivered(viaCli, 1, 300)).count).toBe(0);
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: "17 * * * *" }), env as never, ctx);
    await waitOnExecutionContext(ctx);
    expect(await expectLogoutToken(viaCli, cliClient.clientId)).toMatchObject({ sub: second.id });
  });

  it("a logout URI on a private host is never POSTed to", async () => {
    const client = await oidcClient({ backchannelLogoutUri: "https://127.0.0.1:1/logout" });
    const { browser } = await signedInOidc();
    const { claims } = await signIn(browser, client);
    await logOut(browser);
    await waitForRow(claims.sid as string, (rows) => rows[0]?.logoutAttempts === 1);
    expect((await recordOf("https://127.0.0.1:1/logout")).count).toBe(0);
  });
});

async function waitForRow(sid: string, ready: (rows: (typeof sessionClients.$inferSelect)[]) => boolean): Promise<void> {
  const until = Date.now() + 10_000;
  while (!ready(await rowsOf(sid))) {
    expect(Date.now() < until, "the delivery's outcome was not recorded").toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("front-channel logout", () => {
  const FRONT = "https://app.example.com/frontchannel-logout";

  it("the sign-out page frames each client's logout URI (iss and sid when asked), then continues to the post-logout URI", async () => {
    const withSid = await oidcClient({ frontchannelLogoutUri: `${FRONT}?app=1`, frontchannelLogoutSessionRequired: true, postLogoutRedirectUris: [BYE] });
    const plain = await oidcClient({ frontchannelLogoutUri: "https://app.example.com/plain-logout" });
    const { browser } = await signedInOidc();
    const { claims } = await signIn(browser, withSid);
    await signIn(browser, plain);

    const res = await logOut(browser, { client_id: withSid.clientId, post_logout_redirect_uri: BYE, state: "s1" });
    const html = await res.text();
    expect(res.status, html).toBe(200);
    const frames = [...html.matchAll(/<iframe src="([^"]+)"/g)].map((m) => m[1]!.replace(/&amp;/g, "&")).sort();
    const expected = new URL(FRONT);
    expected.search = new URLSearchParams({ app: "1", iss: ISSUER, sid: claims.sid as string }).toString();
    expect(frames).toEqual([expected.href, "https://app.example.com/plain-logout"].sort());
    expect(html).toContain(`id="continue" href="${BYE}?state=s1"`);
    const csp = res.headers.get("content-security-policy")!;
    expect(csp).toMatch(/frame-src https:\/\/app\.example\.com;/);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toMatch(/script-src 'nonce-[\w-]+'/);
    expect(res.headers.get("cache-control")).toBe("no-store");
    // Signed out all the same.
    const again = redirectParams(await browser.get(authorizeUrl(oidcRequest(plain.clientId, { prompt: "none" }))));
    expect(again.get("error")).toBe("login_required");
  });

  it("without front-channel clients the confirm redirects straight to the post-logout URI", async () => {
    const client = await oidcClient({ postLogoutRedirectUris: [BYE] });
    const { browser } = await signedInOidc();
    await signIn(browser, client);
    const res = await logOut(browser, { client_id: client.clientId, post_logout_redirect_uri: BYE });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(BYE);
  });
});

describe("registration and metadata", () => {
  const app = createProvider({ settings: { DYNAMIC_REGISTRATION: "open" } });
  const register = (body: Record<string, unknown>) =>
    app.request(`${ISSUER}/register/`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }, env);
  const base = { redirect_uris: [REDIRECT], client_name: "RP" };

  it("discovery says both are supported, with sid", async () => {
    const meta = await (await SELF.fetch(`${ISSUER}/.well-known/openid-configuration`)).json<Record<string, unknown>>();
    expect(meta).toMatchObject({
      backchannel_logout_supported: true,
      backchannel_logout_session_supported: true,
      frontchannel_logout_supported: true,
      frontchannel_logout_session_supported: true,
    });
  });

  it("dynamic registration takes the logout members and shows them back", async () => {
    const res = await register({
      ...base,
      backchannel_logout_uri: "https://rp.example.com/bc",
      backchannel_logout_session_required: true,
      frontchannel_logout_uri: "https://app.example.com/fc",
    });
    const info = await res.json<Record<string, unknown>>();
    expect(res.status, JSON.stringify(info)).toBe(201);
    expect(info).toMatchObject({
      backchannel_logout_uri: "https://rp.example.com/bc",
      backchannel_logout_session_required: true,
      frontchannel_logout_uri: "https://app.example.com/fc",
      frontchannel_logout_session_required: false,
    });
  });

  it.each([
    [{ backchannel_logout_uri: "http://rp.example.com/bc" }, "backchannel_logout_uri"],
    [{ backchannel_logout_uri: "https://rp.example.com/bc#x" }, "backchannel_logout_uri"],
    [{ frontchannel_logout_uri: "https://elsewhere.example.com/fc" }, "frontchannel_logout_uri"],
    [{ backchannel_logout_session_required: "yes" }, "backchannel_logout_session_required"],
    [{ frontchannel_logout_session_required: 1 }, "frontchannel_logout_session_required"],
  ])("refuses %j", async (members, named) => {
    const res = await register({ ...base, ...members });
    const body = await res.json<{ error: string; error_description: string }>();
    expect(res.status).toBe(400);
    expect(body.error).toBe("invalid_client_metadata");
    expect(body.error_description).toContain(named);
  });

  it("refuses logout URIs for a client that signs nobody in", async () => {
    const res = await register({ grant_types: ["client_credentials"], response_types: [], backchannel_logout_uri: "https://rp.example.com/bc" });
    const body = await res.json<{ error: string; error_description: string }>();
    expect(res.status).toBe(400);
    expect(body.error_description).toContain("logout URIs");
  });
});
