import { env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { ProviderEvent } from "../../src/core/events";
import { createProvider } from "../../src/provider";
import { hiddenFields, redirectParams } from "./support/browser";
import { authorizeUrl, codeRequest, grantIdOf, newUser, PASSWORD, REDIRECT, VERIFIER, type ClientCredentials } from "./support/flow";
import { basic, BASE, createClient, form } from "./support/helpers";
import { mintUserTokens } from "./support/minted-tokens";
import { AppBrowser, oidcClient, oidcRequest } from "./support/oidc-helpers";

/**
 * Issue 10: events for sign-ins, lockouts, reuse of refresh tokens and codes, and tokens from the
 * authorization endpoint; each told once, with ids and the client address, never a secret; the
 * security events also logged as structured lines, with or without a hook.
 */

type App = ReturnType<typeof createProvider>;
type ProviderSettings = NonNullable<NonNullable<Parameters<typeof createProvider>[0]>["settings"]>;

/** A provider whose `events` hook records every event. */
function recording(settings: ProviderSettings = {}) {
  const events: ProviderEvent[] = [];
  const app = createProvider({
    settings,
    events: (event) => {
      events.push(event);
    },
  });
  return { app, events };
}

let nextAddress = 1;
/** A fresh client address per call (TEST-NET-3, RFC 5737), so throttling counts start at zero. */
const newAddress = () => `203.0.113.${nextAddress++}`;

const post = (app: App, path: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
  app.request(`${BASE}${path}`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", ...headers }, body: form(fields) }, env);

const token = (app: App, client: ClientCredentials, fields: Record<string, string>, address: string) =>
  post(app, "/o/token/", fields, { authorization: basic(client.clientId, client.clientSecret), "cf-connecting-ip": address });

/** Posts the login form from `address` in a fresh browser; answers the status. */
async function loginFrom(app: App, address: string, username: string, password: string): Promise<number> {
  const browser = new AppBrowser(app);
  const headers = { "cf-connecting-ip": address };
  const page = await browser.fetch("/o/login/", { headers });
  const res = await browser.post("/o/login/", { ...hiddenFields(await page.text()), username, password }, headers);
  return res.status;
}

const ofType = <T extends ProviderEvent["type"]>(events: ProviderEvent[], type: T) =>
  events.filter((event): event is Extract<ProviderEvent, { type: T }> => event.type === type);

function expectNoSecrets(events: unknown[], secrets: (string | undefined)[]) {
  const text = JSON.stringify(events);
  for (const secret of secrets) {
    expect(secret).toBeTruthy();
    expect(text).not.toContain(secret);
  }
}

const wrongPassword = () => `guess-${crypto.randomUUID()}`;

describe("sign-in events", () => {
  it("the login form: one signin.succeeded with the user's id, username and address, and nothing else", async () => {
    const user = await newUser();
    const { app, events } = recording();
    const address = newAddress();
    expect(await loginFrom(app, address, user.username, PASSWORD)).toBe(200);
    expect(events).toEqual([{ type: "signin.succeeded", via: "login_form", userId: user.id, username: user.username, clientAddress: address }]);
    expectNoSecrets(events, [PASSWORD]);
  });

  it("a wrong password or an unknown username: one signin.failed, invalid_credentials, with the username as typed, never the password", async () => {
    const user = await newUser();
    const { app, events } = recording();
    const address = newAddress();
    const guesses = [wrongPassword(), wrongPassword()];
    expect(await loginFrom(app, address, user.username, guesses[0]!)).toBe(400);
    expect(await loginFrom(app, address, "nobody-here", guesses[1]!)).toBe(400);
    expect(events).toEqual([
      { type: "signin.failed", via: "login_form", reason: "invalid_credentials", username: user.username, clientAddress: address },
      { type: "signin.failed", via: "login_form", reason: "invalid_credentials", username: "nobody-here", clientAddress: address },
    ]);
    expectNoSecrets(events, guesses);
  });

  it("a username too long for any account is told cut to 150 characters", async () => {
    const { app, events } = recording();
    expect(await loginFrom(app, newAddress(), "x".repeat(5000), wrongPassword())).toBe(400);
    expect(ofType(events, "signin.failed")[0]?.username).toBe("x".repeat(150));
  });

  it("an address lock: the attempt over the limit starts it, later ones (even with the right password) find it; each also fails", async () => {
    const user = await newUser();
    const { app, events } = recording({ LOGIN_MAX_FAILURES: 2 });
    const address = newAddress();
    expect(await loginFrom(app, address, user.username, wrongPassword())).toBe(400);
    expect(await loginFrom(app, address, user.username, wrongPassword())).toBe(400);
    expect(ofType(events, "signin.locked_out")).toEqual([]);

    events.length = 0;
    expect(await loginFrom(app, address, user.username, wrongPassword())).toBe(429);
    const told = { via: "login_form", username: user.username, clientAddress: address };
    const lockedUntil = ofType(events, "signin.locked_out")[0]?.lockedUntil;
    expect(lockedUntil).toBeGreaterThan(Date.now() / 1000);
    expect(events).toEqual([
      { type: "signin.failed", reason: "locked_out", ...told },
      { type: "signin.locked_out", lock: "address", started: true, lockedUntil, ...told },
    ]);

    events.length = 0;
    expect(await loginFrom(app, address, user.username, PASSWORD)).toBe(429);
    expect(events).toEqual([
      { type: "signin.failed", reason: "locked_out", ...told },
      { type: "signin.locked_out", lock: "address", started: false, lockedUntil, ...told },
    ]);

    // The lock is this address's only: from another one the user signs in.
    events.length = 0;
    const elsewhere = newAddress();
    expect(await loginFrom(app, elsewhere, user.username, PASSWORD)).toBe(200);
    expect(events).toEqual([{ type: "signin.succeeded", via: "login_form", userId: user.id, username: user.username, clientAddress: elsewhere }]);
  });

  it("a username lock: attempts from several addresses reach the username's ceiling", async () => {
    const user = await newUser();
    const { app, events } = recording({ LOGIN_MAX_FAILURES: 5, LOGIN_MAX_FAILURES_PER_USERNAME: 2 });
    expect(await loginFrom(app, newAddress(), user.username, wrongPassword())).toBe(400);
    expect(await loginFrom(app, newAddress(), user.username, wrongPassword())).toBe(400);
    const third = newAddress();
    expect(await loginFrom(app, third, user.username, PASSWORD)).toBe(429);
    expect(ofType(events, "signin.locked_out")).toEqual([
      { type: "signin.locked_out", lock: "username", started: true, lockedUntil: expect.any(Number), via: "login_form", username: user.username, clientAddress: third },
    ]);
    expect(ofType(events, "signin.succeeded")).toEqual([]);
  });

  it("the password grant: the same events, with the client's id, and token.issued after a success", async () => {
    const user = await newUser();
    const client = await createClient({ grantTypes: ["password"] });
    const { app, events } = recording({ LOGIN_MAX_FAILURES: 1 });
    const address = newAddress();
    const told = { via: "password_grant", username: user.username, clientId: client.clientId, clientAddress: address };

    const ok = await token(app, client, { grant_type: "password", username: user.username, password: PASSWORD }, address);
    const body = await ok.json<{ access_token: string }>();
    expect(ok.status).toBe(200);
    expect(events).toEqual([
      { type: "signin.succeeded", userId: user.id, ...told },
      { type: "token.issued", grantType: "password", clientId: client.clientId, userId: user.id, scope: "read write" },
    ]);

    events.length = 0;
    const guesses = [wrongPassword(), wrongPassword()];
    expect((await token(app, client, { grant_type: "password", username: user.username, password: guesses[0]! }, address)).status).toBe(400);
    expect(events).toEqual([{ type: "signin.failed", reason: "invalid_credentials", ...told }]);
    events.length = 0;
    expect((await token(app, client, { grant_type: "password", username: user.username, password: guesses[1]! }, address)).status).toBe(400);
    expect(events).toEqual([
      { type: "signin.failed", reason: "locked_out", ...told },
      { type: "signin.locked_out", lock: "address", started: true, lockedUntil: expect.any(Number), ...told },
    ]);
    expectNoSecrets(events, [PASSWORD, ...guesses, client.clientSecret, body.access_token]);
  });
});

/** A confidential client of the code flow that skips the consent page. */
const codeClient = () => createClient({ grantTypes: ["authorization_code", "refresh_token"], redirectUris: [REDIRECT], skipAuthorization: true });

describe("refresh token reuse", () => {
  afterEach(() => vi.useRealTimers());

  async function setUp(settings: ProviderSettings = {}) {
    const client = await codeClient();
    const user = await newUser();
    const minted = await mintUserTokens(client.client, user.id, ["read"]);
    return { client, user, minted, address: newAddress(), ...recording(settings) };
  }

  it("a normal rotation tells token.refreshed only; the rotated token presented again tells refresh_token.reused once", async () => {
    const { client, user, minted, address, app, events } = await setUp();
    const rotated = await token(app, client, { grant_type: "refresh_token", refresh_token: minted.refresh_token }, address);
    const next = await rotated.json<{ access_token: string; refresh_token: string }>();
    expect(rotated.status).toBe(200);
    expect(events.map((e) => e.type)).toEqual(["token.refreshed"]);

    events.length = 0;
    const reused = await token(app, client, { grant_type: "refresh_token", refresh_token: minted.refresh_token }, address);
    expect(reused.status).toBe(400);
    expect(events).toEqual([{ type: "refresh_token.reused", clientId: client.clientId, userId: user.id, grantId: minted.grantId, clientAddress: address }]);

    // The family is revoked: its newest token is refused as revoked, which is no second reuse.
    events.length = 0;
    expect((await token(app, client, { grant_type: "refresh_token", refresh_token: next.refresh_token }, address)).status).toBe(400);
    expect(events).toEqual([]);
    expectNoSecrets(events, [minted.refresh_token, next.refresh_token, next.access_token, client.clientSecret]);
  });

  it("within the grace period, presenting the rotated token again is no reuse", async () => {
    const { client, minted, address, app, events } = await setUp({ REFRESH_TOKEN_GRACE_PERIOD_SECONDS: 60 });
    for (let i = 0; i < 2; i++) {
      expect((await token(app, client, { grant_type: "refresh_token", refresh_token: minted.refresh_token }, address)).status).toBe(200);
    }
    expect(events.map((e) => e.type)).toEqual(["token.refreshed", "token.refreshed"]);
  });

  it("another client presenting the rotated token is refused without revoking or telling reuse", async () => {
    const { client, minted, address, app, events } = await setUp();
    expect((await token(app, client, { grant_type: "refresh_token", refresh_token: minted.refresh_token }, address)).status).toBe(200);
    const other = await codeClient();
    expect((await token(app, other, { grant_type: "refresh_token", refresh_token: minted.refresh_token }, address)).status).toBe(400);
    expect(ofType(events, "refresh_token.reused")).toEqual([]);
  });

  it("two concurrent refreshes of one token: one wins, the other tells reuse exactly once", async () => {
    const { client, minted, address, app, events } = await setUp();
    const both = await Promise.all(
      [1, 2].map(() => token(app, client, { grant_type: "refresh_token", refresh_token: minted.refresh_token }, address)),
    );
    expect(both.map((res) => res.status).sort()).toEqual([200, 400]);
    expect(ofType(events, "refresh_token.reused")).toHaveLength(1);
    expect(ofType(events, "token.refreshed")).toHaveLength(1);
  });
});

describe("authorization code reuse", () => {
  afterEach(() => vi.useRealTimers());

  /** A signed-in user's code for a new client, through the recording provider; the events so far cleared. */
  async function codeFor(settings: ProviderSettings = {}) {
    const client = await codeClient();
    const user = await newUser();
    const { app, events } = recording(settings);
    const browser = new AppBrowser(app);
    expect((await browser.login(user.username, PASSWORD)).status).toBe(200);
    const code = redirectParams(await browser.get(authorizeUrl(codeRequest(client.clientId)))).get("code")!;
    expect(code).toBeTruthy();
    events.length = 0;
    return { client, user, app, events, code, address: newAddress() };
  }

  const exchange = (app: App, client: ClientCredentials, code: string, address: string) =>
    token(app, client, { grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: VERIFIER }, address);

  it("the first redemption tells token.issued; a second tells authorization_code.reused once", async () => {
    const { client, user, app, events, code, address } = await codeFor();
    const first = await exchange(app, client, code, address);
    const tokens = await first.json<{ access_token: string; refresh_token: string }>();
    expect(first.status).toBe(200);
    expect(events.map((e) => e.type)).toEqual(["token.issued"]);

    events.length = 0;
    const again = newAddress();
    expect((await exchange(app, client, code, again)).status).toBe(400);
    expect(events).toEqual([
      { type: "authorization_code.reused", clientId: client.clientId, userId: user.id, grantId: grantIdOf(tokens.access_token), clientAddress: again },
    ]);
    expectNoSecrets(events, [code, tokens.access_token, tokens.refresh_token, client.clientSecret]);
  });

  it("a replay after the code expired tells authorization_code.reused", async () => {
    const { client, user, app, events, code, address } = await codeFor();
    const tokens = await (await exchange(app, client, code, address)).json<{ access_token: string }>();
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 120_000); // AUTHORIZATION_CODE_EXPIRE_SECONDS is 60
    events.length = 0;
    expect((await exchange(app, client, code, address)).status).toBe(400);
    expect(events).toEqual([
      { type: "authorization_code.reused", clientId: client.clientId, userId: user.id, grantId: grantIdOf(tokens.access_token), clientAddress: address },
    ]);
  });

  it("a code presented by another client, or expired and never redeemed, tells no reuse", async () => {
    const { client, app, events, code, address } = await codeFor();
    const other = await codeClient();
    expect((await exchange(app, other, code, address)).status).toBe(400);
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 120_000);
    expect((await exchange(app, client, code, address)).status).toBe(400);
    expect(events).toEqual([]);
  });
});

describe("tokens from the authorization endpoint", () => {
  const withToken = ["token", "id_token token", "code token", "code id_token token"];
  const withoutToken = ["code", "id_token", "code id_token"];

  it.each(withToken)("response_type=%s tells token.issued with grantType implicit, once", async (responseType) => {
    const client = await oidcClient();
    const user = await newUser();
    const { app, events } = recording();
    const browser = new AppBrowser(app);
    await browser.login(user.username, PASSWORD);
    events.length = 0;
    const res = await browser.get(authorizeUrl(oidcRequest(client.clientId, { response_type: responseType })));
    const accessToken = redirectParams(res).get("access_token");
    expect(accessToken).toBeTruthy();
    expect(ofType(events, "token.issued")).toEqual([
      { type: "token.issued", grantType: "implicit", clientId: client.clientId, userId: user.id, scope: "openid" },
    ]);
    expectNoSecrets(events, [accessToken!]);
  });

  it.each(withoutToken)("response_type=%s issues no access token and tells no token.issued", async (responseType) => {
    const client = await oidcClient();
    const user = await newUser();
    const { app, events } = recording();
    const browser = new AppBrowser(app);
    await browser.login(user.username, PASSWORD);
    const res = await browser.get(authorizeUrl(oidcRequest(client.clientId, { response_type: responseType })));
    expect(res.status).toBe(303);
    expect(redirectParams(res).get("error")).toBeNull();
    expect(ofType(events, "token.issued")).toEqual([]);
  });
});

describe("security events in the logs", () => {
  afterEach(() => vi.restoreAllMocks());

  const spyLogs = () => ({
    info: vi.spyOn(console, "log").mockImplementation(() => {}),
    warn: vi.spyOn(console, "warn").mockImplementation(() => {}),
  });

  it("without a hook: each security event is one structured line, never the password; ordinary events are not logged", async () => {
    const user = await newUser();
    const app = createProvider();
    const logs = spyLogs();
    const address = newAddress();
    const guess = wrongPassword();

    expect(await loginFrom(app, address, user.username, guess)).toBe(400);
    expect(logs.warn.mock.calls).toEqual([
      [{ level: "warn", message: "security event", event: "signin.failed", via: "login_form", reason: "invalid_credentials", username: user.username, clientAddress: address }],
    ]);
    expect(await loginFrom(app, address, user.username, PASSWORD)).toBe(200);
    expect(logs.info.mock.calls).toEqual([
      [{ level: "info", message: "security event", event: "signin.succeeded", via: "login_form", userId: user.id, username: user.username, clientAddress: address }],
    ]);
    expectNoSecrets([...logs.warn.mock.calls, ...logs.info.mock.calls], [guess, PASSWORD]);

    logs.info.mockClear();
    logs.warn.mockClear();
    const client = await createClient();
    expect((await token(app, client, { grant_type: "client_credentials" }, address)).status).toBe(200);
    expect(logs.info).not.toHaveBeenCalled();
    expect(logs.warn).not.toHaveBeenCalled();
  });

  it("with a hook: the hook gets the event and the line is still logged, once", async () => {
    const user = await newUser();
    const { app, events } = recording();
    const logs = spyLogs();
    expect(await loginFrom(app, newAddress(), user.username, wrongPassword())).toBe(400);
    expect(events.map((e) => e.type)).toEqual(["signin.failed"]);
    expect(logs.warn).toHaveBeenCalledTimes(1);
    expect(logs.warn.mock.calls[0]?.[0]).toMatchObject({ message: "security event", event: "signin.failed" });
  });
});
