import { env } from "cloudflare:test";
import { Hono } from "hono";
import { decodeProtectedHeader, type JWK } from "jose";
import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { listRecentEvents } from "../../src/db/audit-events";
import { registerUser } from "../../src/db/registration";
import { signingKeys } from "../../src/db/schema";
import { findSigningKey } from "../../src/db/signing-keys";
import { requireToken } from "../../src/middleware/require-token";
import { createProvider, type ProviderOptions } from "../../src/provider";
import { addDatabaseKey, forgetDatabaseKeyRing, PROMOTION_DELAY_SECONDS } from "../../src/tokens/database-keys";
import { unseal } from "../../src/tokens/sealed";
import type { Browser } from "./support/browser";
import { hiddenFields } from "./support/browser";
import { PASSWORD, unique } from "./support/flow";
import { BASE, basic, createClient, db, form, ISSUER, storageOps } from "./support/helpers";
import { AppBrowser } from "./support/oidc-helpers";

/**
 * DATABASE_SIGNING_KEYS: keys kept in D1 beside the SIGNING_KEYS secret, added, promoted and
 * retired from the operator console. Off, nothing changes (no D1 read for keys); on, a key is
 * published at add, signs only from its `signs_from`, and is retired only once its tokens expired.
 */

const ADMIN = "/o/admin";
const KEYS = `${ADMIN}/keys/`;
const secretKids = (JSON.parse(env.SIGNING_KEYS as string) as { keys: JWK[] }).keys.map((k) => ({ kid: k.kid!, alg: k.alg! }));
const secretEs256 = secretKids.find((k) => k.alg === "ES256")!.kid;
const now = () => Math.floor(Date.now() / 1000);

type App = ReturnType<typeof createProvider>;
const appWith = (settings: NonNullable<ProviderOptions["settings"]> = {}) =>
  createProvider({ settings: { OPERATOR_CONSOLE: true, DATABASE_SIGNING_KEYS: true, STORAGE_COUNT_HEADER: true, ...settings } });

afterEach(() => {
  vi.restoreAllMocks();
});

beforeEach(async () => {
  // Only this file turns DATABASE_SIGNING_KEYS on: each test starts with no database key and a fresh ring.
  await db().delete(signingKeys);
  forgetDatabaseKeyRing();
});

async function signedInTo(app: App, options: { operator?: boolean } = {}) {
  const username = unique(options.operator === false ? "plain" : "keyop");
  const user = await registerUser(db(), { username, password: PASSWORD, operator: options.operator !== false });
  const browser = new AppBrowser(app);
  expect((await browser.login(username, PASSWORD)).status).toBe(200);
  return { browser, username, id: user.id };
}

/** Posts `fields` with the CSRF token of the keys page. */
async function submit(browser: Browser, action: string, fields: Record<string, string> = {}): Promise<Response> {
  const page = await browser.get(KEYS);
  expect(page.status).toBe(200);
  return browser.post(action, { ...hiddenFields(await page.text()), ...fields });
}

function call(app: App, path: string, init: RequestInit = {}) {
  return app.request(`${BASE}${path}`, init, env);
}

async function tokenFrom(app: App, client: { clientId: string; clientSecret: string }) {
  const res = await call(app, "/o/token/", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(client.clientId, client.clientSecret) },
    body: form({ grant_type: "client_credentials" }),
  });
  expect(res.status).toBe(200);
  const token = ((await res.json()) as { access_token: string }).access_token;
  return { res, token, kid: decodeProtectedHeader(token).kid };
}

async function introspect(app: App, client: { clientId: string; clientSecret: string }, token: string) {
  const res = await call(app, "/o/introspect/", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(client.clientId, client.clientSecret) },
    body: form({ token }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { active: boolean }).active;
}

async function jwksText(app: App) {
  const res = await call(app, "/o/.well-known/jwks.json");
  expect(res.status).toBe(200);
  return res.text();
}
const jwksKids = async (app: App) => (JSON.parse(await jwksText(app)) as { keys: JWK[] }).keys.map((k) => k.kid);

/** The kid of the key just added on the page (the newest database row). */
async function newestKid(): Promise<string> {
  const rows = await db().select().from(signingKeys).all();
  return rows.sort((a, b) => b.createdAt - a.createdAt || (a.kid < b.kid ? -1 : 1))[0]!.kid;
}

/** Moves a key's times into the past, as if it had been added (and promoted) `ago` seconds ago; then a fresh ring. */
async function backdate(kid: string, times: { createdAt?: number; signsFrom?: number | null }) {
  await db().update(signingKeys).set(times).where(eq(signingKeys.kid, kid));
  forgetDatabaseKeyRing();
}

async function eventFor(type: string, kid: string) {
  for (let i = 0; i < 50; i++) {
    const found = (await listRecentEvents(db(), 50, { type })).find((e) => e.detail?.kid === kid);
    if (found) return found;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return undefined;
}

describe("DATABASE_SIGNING_KEYS off (the default)", () => {
  it("reads no key from D1: a warm client_credentials token costs 0 D1 and 0 KV, database keys are not published, the page shows the CLI steps", async () => {
    const app = createProvider({ settings: { OPERATOR_CONSOLE: true, STORAGE_COUNT_HEADER: true } });
    const stored = await addDatabaseKey(db(), env.SECRET_KEY as string, "ES256");
    await backdate(stored.kid, { createdAt: now() - 3600, signsFrom: now() - 60 });
    const client = await createClient();
    await tokenFrom(app, client);
    const warm = await tokenFrom(app, client);
    expect(storageOps(warm.res)).toMatchObject({ d1: 0, kv: 0 });
    expect(warm.kid).toBe(secretEs256);
    expect(await jwksKids(app)).not.toContain(stored.kid);

    const { browser } = await signedInTo(app);
    const page = await (await browser.get(KEYS)).text();
    expect(page).toContain("npx wrangler secret put SIGNING_KEYS");
    expect(page).toContain("DATABASE_SIGNING_KEYS=true");
    expect(page).not.toContain(stored.kid);
    expect(page).not.toContain(`action="${ADMIN}/keys/add/"`);
    const posted = await browser.post(`${ADMIN}/keys/add/`, { ...hiddenFields(page), alg: "ES256" });
    expect(posted.status).toBe(404);
  });
});

describe("DATABASE_SIGNING_KEYS on", () => {
  it("a warm isolate still issues client_credentials tokens with 0 D1 and 0 KV (the ring is cached)", async () => {
    const app = appWith();
    const client = await createClient();
    const cold = await tokenFrom(app, client);
    expect(storageOps(cold.res).d1).toBeGreaterThanOrEqual(1);
    const warm = await tokenFrom(app, client);
    expect(storageOps(warm.res)).toMatchObject({ d1: 0, kv: 0 });
  });

  it("add publishes a key (never its private part), promote schedules it in the future and the old key signs until then; afterwards it signs and verifies", async () => {
    const app = appWith();
    const client = await createClient();
    const { browser, id: operatorId } = await signedInTo(app);
    const page = await (await browser.get(KEYS)).text();
    for (const { kid } of secretKids) expect(page).toContain(kid);
    expect(page).toContain("in the SIGNING_KEYS secret");

    const added = await submit(browser, `${ADMIN}/keys/add/`, { alg: "ES256" });
    expect(added.status).toBe(303);
    expect(added.headers.get("location")).toBe(`${KEYS}?done=key_added`);
    const kid = await newestKid();
    const row = (await findSigningKey(db(), kid))!;
    const privateJwk = (await unseal<JWK>(env.SECRET_KEY as string, "signing-key", row.sealedPrivateJwk))!;
    expect(privateJwk.d).toBeTruthy();
    expect(row.signsFrom).toBeNull();

    const jwks = await jwksText(app);
    expect((JSON.parse(jwks) as { keys: JWK[] }).keys.find((k) => k.kid === kid)).toMatchObject({ alg: "ES256", use: "sig", x: privateJwk.x });
    expect(jwks).not.toContain(privateJwk.d!);
    expect(jwks).not.toMatch(/"d"/);
    const listed = await (await browser.get(`${KEYS}?done=key_added`)).text();
    expect(listed).toContain(kid);
    expect(listed).toContain("The key is added");
    expect(listed).not.toContain(privateJwk.d!);
    expect(listed).not.toContain(row.sealedPrivateJwk);
    expect(await eventFor("key.added", kid)).toMatchObject({ operatorId, detail: { kid, alg: "ES256" } });

    // Promote: signs from created_at + the delay (the key is new), not now.
    const before = now();
    expect((await submit(browser, `${ADMIN}/keys/${kid}/promote/`)).status).toBe(303);
    const promoted = (await findSigningKey(db(), kid))!;
    expect(promoted.signsFrom).toBe(row.createdAt + PROMOTION_DELAY_SECONDS);
    expect(promoted.signsFrom!).toBeGreaterThan(before + 400);
    const scheduled = await (await browser.get(KEYS)).text();
    expect(scheduled).toMatch(/signs from <time datetime="[^"]+">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC<\/time>/);
    expect((await tokenFrom(app, client)).kid).toBe(secretEs256);
    expect(await eventFor("key.promoted", kid)).toMatchObject({ operatorId, detail: { kid, signsFrom: promoted.signsFrom } });

    // Its time has come (written to the past in D1, then a fresh ring): it signs, and its tokens verify.
    await backdate(kid, { createdAt: now() - 3600, signsFrom: now() - 1 });
    const issued = await tokenFrom(app, client);
    expect(issued.kid).toBe(kid);
    expect(await introspect(app, client, issued.token)).toBe(true);
    const after = await (await browser.get(KEYS)).text();
    expect(after).toMatch(new RegExp(`${kid}</code></td><td>ES256</td><td>database</td><td><strong>signs</strong>`));
    expect(after).toMatch(new RegExp(`${secretEs256}</code></td><td>ES256</td><td>secret</td><td>published`));

    // A protected API in the same Worker (requireToken, no jwksUrl) verifies it with the same ring.
    const api = new Hono();
    api.get("/api", requireToken({ issuer: ISSUER, audience: BASE, revocation: false }), (c) => c.text("ok"));
    const apiRes = await api.request(`${BASE}/api`, { headers: { authorization: `Bearer ${issued.token}` } }, { ...env, DATABASE_SIGNING_KEYS: "true" });
    expect(apiRes.status).toBe(200);
    const without = await api.request(`${BASE}/api`, { headers: { authorization: `Bearer ${issued.token}` } }, env);
    expect(without.status).toBe(401);
  });

  it("retire is refused for the signing key and within the token lifetime after its last token, accepted afterwards; the key then leaves the JWKS and stops verifying", async () => {
    const app = appWith();
    const client = await createClient();
    const { browser, id: operatorId } = await signedInTo(app);
    const first = await addDatabaseKey(db(), env.SECRET_KEY as string, "ES256");
    await backdate(first.kid, { createdAt: now() - 7200, signsFrom: now() - 7000 });
    const signedByFirst = await tokenFrom(app, client);
    expect(signedByFirst.kid).toBe(first.kid);

    const refused = await submit(browser, `${ADMIN}/keys/${first.kid}/retire/`);
    expect(refused.status).toBe(409);
    expect(await refused.text()).toMatch(/signs ES256 tokens: make another ES256 key sign first/);

    // A second key takes over just now: the first signed tokens until now, which live an hour.
    const second = await addDatabaseKey(db(), env.SECRET_KEY as string, "ES256");
    await backdate(second.kid, { createdAt: now() - 3600, signsFrom: now() - 1 });
    expect((await tokenFrom(app, client)).kid).toBe(second.kid);
    const tooSoon = await submit(browser, `${ADMIN}/keys/${first.kid}/retire/`);
    expect(tooSoon.status).toBe(409);
    expect(await tooSoon.text()).toMatch(/may still be valid \(they live up to 3600 s\): retire it from/);
    expect(await jwksKids(app)).toContain(first.kid);
    expect(await introspect(app, client, signedByFirst.token)).toBe(true);

    // The takeover was longer ago than the token lifetime plus the ring's cache time.
    await backdate(second.kid, { signsFrom: now() - 3600 - 60 - 5 });
    const retired = await submit(browser, `${ADMIN}/keys/${first.kid}/retire/`);
    expect(retired.status).toBe(303);
    expect((await findSigningKey(db(), first.kid))!.retiredAt).not.toBeNull();
    expect(await jwksKids(app)).not.toContain(first.kid);
    expect(await introspect(app, client, signedByFirst.token)).toBe(false);
    expect(await (await browser.get(KEYS)).text()).toMatch(new RegExp(`${first.kid}</code></td><td>ES256</td><td>database</td><td>retired`));
    expect(await eventFor("key.retired", first.kid)).toMatchObject({ operatorId, detail: { kid: first.kid, alg: "ES256" } });

    // A key never promoted has signed nothing: retired at once. A retired key cannot be promoted.
    const unused = await addDatabaseKey(db(), env.SECRET_KEY as string, "RS256");
    expect((await submit(browser, `${ADMIN}/keys/${unused.kid}/retire/`)).status).toBe(303);
    const again = await submit(browser, `${ADMIN}/keys/${unused.kid}/promote/`);
    expect(again.status).toBe(409);
    expect(await again.text()).toContain("is retired");
  });

  it("a key retired before its time came never took over: the key before it signed until the next real takeover", async () => {
    const app = appWith();
    const { browser } = await signedInTo(app);
    const [a, b, c] = [
      await addDatabaseKey(db(), env.SECRET_KEY as string, "ES256"),
      await addDatabaseKey(db(), env.SECRET_KEY as string, "ES256"),
      await addDatabaseKey(db(), env.SECRET_KEY as string, "ES256"),
    ];
    await backdate(a.kid, { createdAt: now() - 9000, signsFrom: now() - 8000 });
    // B was promoted for later, then retired well before that time: it never signed.
    await db().update(signingKeys).set({ createdAt: now() - 9000, signsFrom: now() - 5000, retiredAt: now() - 7000 }).where(eq(signingKeys.kid, b.kid));
    await backdate(c.kid, { createdAt: now() - 9000, signsFrom: now() - 10 });
    const refused = await submit(browser, `${ADMIN}/keys/${a.kid}/retire/`);
    expect(refused.status).toBe(409);
    expect(await refused.text()).toMatch(/may still be valid/);
  });

  it("requireToken's databaseKeys option verifies with the database keys without the var", async () => {
    const app = appWith();
    const client = await createClient();
    const key = await addDatabaseKey(db(), env.SECRET_KEY as string, "ES256");
    await backdate(key.kid, { createdAt: now() - 3600, signsFrom: now() - 1 });
    const issued = await tokenFrom(app, client);
    expect(issued.kid).toBe(key.kid);
    const api = new Hono();
    api.get("/api", requireToken({ issuer: ISSUER, audience: BASE, revocation: false, databaseKeys: true }), (c) => c.text("ok"));
    expect((await api.request(`${BASE}/api`, { headers: { authorization: `Bearer ${issued.token}` } }, env)).status).toBe(200);
  });

  it("a secret key cannot be promoted or retired from the console; an unknown algorithm is refused", async () => {
    const app = appWith();
    const { browser } = await signedInTo(app);
    for (const action of ["promote", "retire"]) {
      const res = await submit(browser, `${ADMIN}/keys/${secretEs256}/${action}/`);
      expect(res.status).toBe(409);
      expect(await res.text()).toContain("is in the SIGNING_KEYS secret");
    }
    expect((await submit(browser, `${ADMIN}/keys/add/`, { alg: "HS256" })).status).toBe(400);
  });

  it("a key of a new algorithm is published but not announced for ID tokens until it signs", async () => {
    const app = appWith();
    const ps = await addDatabaseKey(db(), env.SECRET_KEY as string, "PS256");
    const metadata = async () => ((await (await call(app, "/o/.well-known/openid-configuration")).json()) as { id_token_signing_alg_values_supported: string[] }).id_token_signing_alg_values_supported;
    expect(await jwksKids(app)).toContain(ps.kid);
    expect(await metadata()).not.toContain("PS256");
    await backdate(ps.kid, { createdAt: now() - 3600, signsFrom: now() - 1 });
    expect(await metadata()).toContain("PS256");
  });

  it("a key sealed under another SECRET_KEY is skipped (logged), not a 500", async () => {
    const app = appWith();
    const client = await createClient();
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    const other = await addDatabaseKey(db(), "another secret key of at least 32 characters!!", "ES256");
    await backdate(other.kid, { createdAt: now() - 3600, signsFrom: now() - 1 });
    const issued = await tokenFrom(app, client);
    expect(issued.kid).toBe(secretEs256);
    expect(await introspect(app, client, issued.token)).toBe(true);
    expect(await jwksKids(app)).not.toContain(other.kid);
    expect(JSON.stringify(logged.mock.calls)).toContain("database signing key skipped: it does not open with this SECRET_KEY");
    expect(JSON.stringify(logged.mock.calls)).toContain(other.kid);
    const { browser } = await signedInTo(app);
    const page = await browser.get(KEYS);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(new RegExp(`${other.kid}</code></td><td>ES256</td><td>database</td><td>skipped: it does not open with this SECRET_KEY`));
    // It cannot be made to sign; it can be retired (it is the signer only on paper: retire once another took over).
    const unsigned = await addDatabaseKey(db(), "another secret key of at least 32 characters!!", "RS256");
    const promote = await submit(browser, `${ADMIN}/keys/${unsigned.kid}/promote/`);
    expect(promote.status).toBe(409);
    expect(await promote.text()).toContain("does not open with this SECRET_KEY");
    expect((await submit(browser, `${ADMIN}/keys/${unsigned.kid}/retire/`)).status).toBe(303);
  });

  it("a POST without the CSRF token is 403, and a user who is not an operator gets 403", async () => {
    const app = appWith();
    const { browser } = await signedInTo(app);
    const noCsrf = await browser.post(`${ADMIN}/keys/add/`, { alg: "ES256" });
    expect(noCsrf.status).toBe(403);
    const plain = await signedInTo(app, { operator: false });
    expect((await plain.browser.get(KEYS)).status).toBe(403);
    expect((await plain.browser.post(`${ADMIN}/keys/add/`, { alg: "ES256" })).status).toBe(403);
    expect(await db().select().from(signingKeys).all()).toEqual([]);
  });
});

describe("when D1 cannot be read", () => {
  /** A D1 binding whose every query fails, as during an outage. */
  const unreachable = {
    prepare() {
      throw new Error("D1 is unreachable");
    },
    batch() {
      throw new Error("D1 is unreachable");
    },
  } as unknown as D1Database;
  const jwksWith = (app: App, d1: D1Database) => app.request(`${BASE}/o/.well-known/jwks.json`, {}, { ...env, DB: d1 });

  it("a cold isolate refuses (500 server_error) rather than serve or sign with the secret's keys alone", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    const res = await jwksWith(appWith(), unreachable);
    expect(res.status).toBe(500);
    expect(await res.json()).toMatchObject({ error: "server_error" });
    expect(logged).toHaveBeenCalled();
  });

  it("a warm isolate keeps the ring it had once its cache time is over, and logs it", async () => {
    const app = appWith();
    const stored = await addDatabaseKey(db(), env.SECRET_KEY as string, "ES256");
    expect(await jwksKids(app)).toContain(stored.kid);
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    const later = Date.now() + 61_000;
    vi.spyOn(Date, "now").mockImplementation(() => later);
    const res = await jwksWith(app, unreachable);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { keys: JWK[] }).keys.map((k) => k.kid)).toContain(stored.kid);
    expect(JSON.stringify(logged.mock.calls)).toContain("D1 could not be read, the previous key ring is kept");
  });
});
