import { env } from "cloudflare:test";
import { Hono } from "hono";
import { serializeSigned } from "hono/utils/cookie";
import { describe, expect, it } from "vitest";
import { rotateClientSecret } from "../../src/db/registration";
import { setUserActive, setUserPassword } from "../../src/db/users";
import { hashPassword } from "../../src/core/crypto";
import { builtinAccounts } from "../../src/session/accounts";
import { signedInAccount } from "../../src/session/signed-in";
import { Browser, hiddenFields, redirectParams } from "./support/browser";
import { authorizeUrl, codeRequest, exchangeCode, expectConsentPage, expectTokens, PASSWORD, REDIRECT, refresh, signedIn } from "./support/flow";
import { basic, createClient, d1Routes, db, postToken, storageOps } from "./support/helpers";

/**
 * Issue 11: reads near the user through D1's Sessions API. The session cookie carries the D1
 * bookmark of the browser's latest write; pages that issue nothing read a replica at least that
 * new; whatever issues a code or tokens, or writes, reads the primary. Locally (Miniflare) every
 * read is answered by the primary, so these tests check where each read is sent (X-Storage-Ops'
 * d1_primary / d1_replica), what the cookie carries, and what the user sees.
 */

const SESSION_COOKIE = "__Host-eot_session";

interface CookieSession {
  sid: string;
  userId: string;
  bookmark?: string;
}

/** The session the browser's signed cookie carries (its payload; the signature is not checked here). */
function cookieSession(browser: Browser): CookieSession {
  const raw = decodeURIComponent(browser.cookies.get(SESSION_COOKIE) ?? "");
  const payload = raw.slice(0, raw.lastIndexOf("."));
  return JSON.parse(atob(payload)) as CookieSession;
}

/** The cookie re-signed with the server's secret around `session`: what only the server can write. */
async function signedCookie(session: object): Promise<string> {
  const line = await serializeSigned(SESSION_COOKIE, btoa(JSON.stringify(session)), env.SECRET_KEY as string, { secure: true, path: "/" });
  return line.slice(SESSION_COOKIE.length + 1).split(";")[0]!;
}

/** The primary's bookmark now (a query through a session started at the primary). */
async function primaryBookmark(): Promise<string> {
  const session = env.DB.withSession("first-primary");
  await session.prepare("SELECT 1").first();
  return session.getBookmark()!;
}

const publicClient = async (extra: Parameters<typeof createClient>[0] = {}) =>
  (await createClient({ clientType: "public", grantTypes: ["authorization_code"], redirectUris: [REDIRECT], ...extra })).clientId;

/** Loads the client into this isolate's cache, so that the next request's figures are the page's own. */
async function warm(clientId: string) {
  await new Browser().get(authorizeUrl(codeRequest(clientId)));
}

function expectCode(res: Response): string {
  expect(res.status, res.headers.get("location") ?? "").toBe(303);
  const code = redirectParams(res).get("code");
  expect(code).toBeTruthy();
  return code!;
}

describe("the bookmark in the session cookie", () => {
  it("sign-in: the cookie carries a bookmark at least as new as the session's insert", async () => {
    const before = await primaryBookmark();
    const { browser } = await signedIn();
    const after = await primaryBookmark();
    const { bookmark } = cookieSession(browser);
    expect(bookmark).toMatch(/^[0-9a-f]{8}-/);
    // Bookmarks are fixed-width hex: their order is the order of the writes.
    expect(bookmark! > before).toBe(true);
    expect(bookmark! <= after).toBe(true);
  });

  it("a consent given: the cookie's bookmark moves past the write, and the next authorization sees it", async () => {
    const clientId = await publicClient();
    const { browser, id } = await signedIn();
    const signedInAt = cookieSession(browser).bookmark!;
    const request = codeRequest(clientId, { approval_prompt: "auto" });
    const html = await expectConsentPage(browser, request);
    const before = await primaryBookmark();
    expectCode(await browser.post("/o/authorize/", { ...hiddenFields(html), allow: "Authorize" }));
    const after = await primaryBookmark();
    const { bookmark, userId } = cookieSession(browser);
    expect(userId).toBe(id);
    expect(bookmark! > signedInAt).toBe(true);
    expect(bookmark! > before).toBe(true);
    expect(bookmark! <= after).toBe(true);

    // The same session, again: the approval is seen, no second consent page.
    const again = await browser.get(authorizeUrl(request));
    expectCode(again);
    expect(storageOps(again)).toMatchObject({ d1: 1 });
  });

  it("a bookmark changed inside the cookie breaks its signature: signed out, no 500", async () => {
    const clientId = await publicClient();
    await warm(clientId);
    const { browser } = await signedIn();
    const raw = decodeURIComponent(browser.cookies.get(SESSION_COOKIE)!);
    const signature = raw.slice(raw.lastIndexOf(".") + 1);
    const forged = btoa(JSON.stringify({ ...cookieSession(browser), bookmark: "ffffffff-ffffffff-ffffffff-ffffffffffffffffffffffffffffffff" }));
    browser.cookies.set(SESSION_COOKIE, encodeURIComponent(`${forged}.${signature}`));
    const res = await browser.get(authorizeUrl(codeRequest(clientId)));
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toMatch(/^\/o\/login\//);
  });

  it.each([
    ["garbage", "'; DROP TABLE sessions; --"],
    ["not a string", 42],
    ["too long", `00000000-${"0".repeat(500)}`],
  ])("a signed cookie whose bookmark is %s: the bookmark is ignored, the session read at the primary", async (_, bad) => {
    const clientId = await publicClient();
    await warm(clientId);
    const { browser } = await signedIn();
    browser.cookies.set(SESSION_COOKIE, await signedCookie({ ...cookieSession(browser), bookmark: bad }));
    const res = await browser.get(authorizeUrl(codeRequest(clientId)));
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('name="allow"');
    expect(d1Routes(res)).toEqual({ primary: 1, replica: 0 });
  });

  it("a cookie without a bookmark (signed before bookmarks) is read at the primary", async () => {
    const clientId = await publicClient();
    await warm(clientId);
    const { browser } = await signedIn();
    const { bookmark: _, ...old } = cookieSession(browser);
    browser.cookies.set(SESSION_COOKIE, await signedCookie(old));
    const res = await browser.get(authorizeUrl(codeRequest(clientId)));
    expect(res.status).toBe(200);
    expect(d1Routes(res)).toEqual({ primary: 1, replica: 0 });
  });

  it("a bookmark D1 refuses costs a read at the primary, not a 500", async () => {
    const { browser, id } = await signedIn();
    const refusing = {
      prepare: (query: string) => env.DB.prepare(query),
      batch: (statements: D1PreparedStatement[]) => env.DB.batch(statements),
      withSession: () => ({
        prepare: () => {
          throw new Error("D1_ERROR: invalid bookmark");
        },
        batch: () => Promise.reject(new Error("D1_ERROR: invalid bookmark")),
        getBookmark: () => null,
      }),
    } as unknown as D1Database;
    const app = new Hono().get("/", async (c) => {
      const found = await signedInAccount(c, { db: db(), d1: refusing, accounts: builtinAccounts, secret: () => env.SECRET_KEY as string }, { from: "nearby" });
      return c.json({ userId: found?.account.id ?? null });
    });
    const cookie = [...browser.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    const res = await app.request("https://auth.example.com/", { headers: { cookie } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ userId: id });
  });
});

describe("one round-trip for the signed-in authorization page", () => {
  it("a consent page: session, approval and the user in one batch, at a replica as new as the cookie's bookmark", async () => {
    const clientId = await publicClient();
    await warm(clientId);
    const { browser } = await signedIn();
    const res = await browser.get(authorizeUrl(codeRequest(clientId)));
    expect(res.status).toBe(200);
    expect(storageOps(res)).toEqual({ d1: 1, d1_statements: 3, kv: 0 });
    expect(d1Routes(res)).toEqual({ primary: 0, replica: 1 });
  });

  it("an answer without a consent page (approval_prompt=auto): one batch, at the primary", async () => {
    const clientId = await publicClient();
    const { browser } = await signedIn();
    const request = codeRequest(clientId, { approval_prompt: "auto" });
    const html = await expectConsentPage(browser, request);
    expectCode(await browser.post("/o/authorize/", { ...hiddenFields(html), allow: "Authorize" }));
    const res = await browser.get(authorizeUrl(request));
    expectCode(res);
    expect(storageOps(res)).toEqual({ d1: 1, d1_statements: 3, kv: 0 });
    expect(d1Routes(res)).toEqual({ primary: 1, replica: 0 });
  });

  it("a secret that does not match the cached client re-reads it at the primary: a rotated secret works at once", async () => {
    const { clientId, clientSecret } = await createClient();
    const token = (secret: string) => postToken({ grant_type: "client_credentials" }, { authorization: basic(clientId, secret) });
    const cold = await token(clientSecret);
    expect(cold.status).toBe(200);
    expect(d1Routes(cold)).toEqual({ primary: 0, replica: 1 });
    const rotated = await rotateClientSecret(db(), clientId, 30);
    const res = await token(rotated!.secret);
    expect(res.status).toBe(200);
    expect(d1Routes(res)).toEqual({ primary: 1, replica: 0 });
  });

  it("a cold isolate loads the client from a replica", async () => {
    const clientId = await publicClient();
    const res = await new Browser().get(authorizeUrl(codeRequest(clientId)));
    expect(res.status).toBe(303);
    expect(d1Routes(res)).toEqual({ primary: 0, replica: 1 });
  });
});

describe("whatever issues a code or tokens reads the primary", () => {
  // An attacker holding a copy of a signed-out session's cookie, answered by a lagging replica,
  // would be "signed in" there: none of these answers may rest on such a read.
  it.each<[string, Parameters<typeof createClient>[0], Record<string, string>]>([
    ["skip_authorization", { skipAuthorization: true }, {}],
    ["prompt=none", { skipAuthorization: true }, { prompt: "none" }],
    ["approval_prompt=auto", {}, { approval_prompt: "auto" }],
  ])("%s: the session is read at the primary", async (_, extra, params) => {
    const clientId = await publicClient(extra);
    await warm(clientId);
    const { browser } = await signedIn();
    const res = await browser.get(authorizeUrl(codeRequest(clientId, params)));
    if (params.approval_prompt) {
      expect(res.status).toBe(200); // nothing approved yet: the consent page, read at the primary all the same
    } else {
      expectCode(res);
    }
    expect(d1Routes(res)).toEqual({ primary: 1, replica: 0 });
  });

  it("the consent decision reads and writes at the primary", async () => {
    const clientId = await publicClient();
    const { browser } = await signedIn();
    const html = await expectConsentPage(browser, codeRequest(clientId));
    const res = await browser.post("/o/authorize/", { ...hiddenFields(html), allow: "Authorize" });
    expectCode(res);
    expect(d1Routes(res)).toEqual({ primary: 2, replica: 0 });
  });

  it("sign-in: throttling, the password and the new session, all at the primary", async () => {
    const { username } = await signedIn();
    const browser = new Browser();
    const res = await browser.login(username, PASSWORD);
    expect(res.status).toBe(200);
    expect(d1Routes(res)).toEqual({ primary: storageOps(res).d1, replica: 0 });
  });

  it("code redemption and refresh are counted at the primary", async () => {
    const { clientId, clientSecret } = await createClient({
      grantTypes: ["authorization_code", "refresh_token"],
      redirectUris: [REDIRECT],
      skipAuthorization: true,
    });
    const client = { clientId, clientSecret };
    const { browser } = await signedIn();
    const code = expectCode(await browser.get(authorizeUrl(codeRequest(clientId))));
    const exchanged = await exchangeCode(client, code);
    const tokens = await expectTokens(exchanged.clone());
    expect(d1Routes(exchanged)).toEqual({ primary: 1, replica: 0 });
    const refreshed = await refresh(client, tokens.refresh_token!);
    await expectTokens(refreshed.clone());
    expect(d1Routes(refreshed)).toEqual({ primary: 1, replica: 0 });
  });
});

describe("writes are honoured by the next read", () => {
  it("logout: a copy of the cookie no longer signs in, nor issues a code", async () => {
    const clientId = await publicClient({ skipAuthorization: true });
    const { browser } = await signedIn();
    const copy = new Browser();
    for (const [name, value] of browser.cookies) copy.cookies.set(name, value);
    const page = await browser.get("/o/logout/");
    expect((await browser.post("/o/logout/", { ...hiddenFields(await page.text()), logout: "yes" })).status).toBe(200);
    expect(browser.cookies.has(SESSION_COOKIE)).toBe(false);

    const consent = await copy.get(authorizeUrl(codeRequest(clientId, { prompt: "consent" })));
    expect(consent.status).toBe(303);
    expect(consent.headers.get("location")).toMatch(/^\/o\/login\//);
    const silent = await copy.get(authorizeUrl(codeRequest(clientId, { prompt: "none" })));
    expect(redirectParams(silent).get("error")).toBe("login_required");
  });

  it.each([
    ["a new password", (username: string) => hashPassword("another password").then((hash) => setUserPassword(db(), username, hash))],
    ["a disabled user", (username: string) => setUserActive(db(), username, false)],
  ])("%s: the session's next authorization page sends the user to sign in", async (_, change) => {
    const clientId = await publicClient();
    const { browser, username } = await signedIn();
    await expectConsentPage(browser, codeRequest(clientId));
    await change(username);
    const res = await browser.get(authorizeUrl(codeRequest(clientId)));
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toMatch(/^\/o\/login\//);
  });
});
