import { env, SELF } from "cloudflare:test";
import { decodeJwt, exportJWK, generateKeyPair, SignJWT } from "jose";
import { CLIENT_ASSERTION_TYPE } from "../../src/oauth/client-assertion";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Browser, hiddenFields } from "./support/browser";
import { expectTokenError, expectTokens, newUser, PASSWORD, signedIn, tokenRequest, type ClientCredentials } from "./support/flow";
import { basic, BASE, createClient, db, form, ISSUER, storageOps } from "./support/helpers";
import { verifyIdToken } from "./support/oidc-helpers";
import { USER_CODE_ALPHABET } from "../../src/oauth/user-code";
import { createProvider } from "../../src/provider";
import { setUserActive } from "../../src/db/users";
import type { ProviderEvent } from "../../src/core/events";

/**
 * RFC 8628: the device asks for codes, its user enters the user code on the verification page and
 * approves or denies, and the device polls the token endpoint until it gets an answer.
 */

const DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";
const PAGE = "/o/device/";

interface DeviceCodes {
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete: string;
  expires_in: number;
  interval: number;
}

type Grant = "refresh_token" | "authorization_code" | typeof DEVICE_GRANT | "client_credentials";

async function deviceClient(grantTypes: Grant[] = [DEVICE_GRANT, "refresh_token"], clientType: "public" | "confidential" = "public") {
  const { clientId, clientSecret } = await createClient({ name: "Living room TV", clientType, grantTypes, scope: "read write" });
  return { clientId, clientSecret } satisfies ClientCredentials;
}

function requestCodes(client: ClientCredentials, fields: Record<string, string> = {}): Promise<Response> {
  const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded" };
  const body = { ...fields };
  if (client.clientSecret) headers.authorization = basic(client.clientId, client.clientSecret);
  else body.client_id = client.clientId;
  return SELF.fetch(`${ISSUER}/device_authorization/`, { method: "POST", headers, body: form(body) });
}

async function codesFor(client: ClientCredentials, fields: Record<string, string> = {}): Promise<DeviceCodes> {
  const res = await requestCodes(client, fields);
  const text = await res.text();
  expect(res.status, text).toBe(200);
  expect(res.headers.get("cache-control")).toBe("no-store");
  return JSON.parse(text) as DeviceCodes;
}

const poll = (client: ClientCredentials, deviceCode: string, extra: Record<string, string> = {}) =>
  tokenRequest(client, { grant_type: DEVICE_GRANT, device_code: deviceCode, ...extra });

/** Moves the clock (the worker and the test share the isolate's Date). */
function advance(seconds: number) {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(Date.now() + seconds * 1000);
}

afterEach(() => {
  vi.useRealTimers();
});

/** The user enters the code on the page: the confirmation page, whose form carries the decision's fields. */
async function enterCode(browser: Browser, userCode: string): Promise<{ res: Response; html: string }> {
  const entry = await browser.get(PAGE);
  expect(entry.status).toBe(200);
  const fields = hiddenFields(await entry.text());
  const res = await browser.post(PAGE, { ...fields, user_code: userCode });
  return { res, html: await res.text() };
}

async function decide(browser: Browser, userCode: string, decision: "approve" | "deny"): Promise<Response> {
  const { res, html } = await enterCode(browser, userCode);
  expect(res.status, html).toBe(200);
  return browser.post(PAGE, { ...hiddenFields(html), decision });
}

/** A device with codes, and a signed-in user who approved (or denied) it. */
async function decided(client: ClientCredentials, decision: "approve" | "deny", fields: Record<string, string> = {}) {
  const codes = await codesFor(client, fields);
  const user = await signedIn("device");
  const res = await decide(user.browser, codes.user_code, decision);
  expect(res.status).toBe(200);
  return { codes, user, html: await res.text() };
}

describe("the device authorization request", () => {
  it("answers with a device code, an 8-letter user code, the verification URIs, expires_in and interval", async () => {
    const client = await deviceClient();
    const codes = await codesFor(client, { scope: "read" });
    expect(codes.device_code.length).toBeGreaterThanOrEqual(43);
    expect(codes.user_code).toMatch(new RegExp(`^[${USER_CODE_ALPHABET}]{4}-[${USER_CODE_ALPHABET}]{4}$`));
    expect(codes.verification_uri).toBe(`${ISSUER}/device/`);
    expect(codes.verification_uri_complete).toBe(`${ISSUER}/device/?user_code=${codes.user_code}`);
    expect(codes.expires_in).toBe(600);
    expect(codes.interval).toBe(5);
  });

  it("authenticates a confidential client as the token endpoint does", async () => {
    const client = await deviceClient([DEVICE_GRANT], "confidential");
    await codesFor(client);
    await expectTokenError(await requestCodes({ clientId: client.clientId, clientSecret: "wrong" }), "invalid_client");
    await expectTokenError(await requestCodes({ clientId: "no-such-client", clientSecret: "" }), "invalid_client");
  });

  it("a private_key_jwt client authenticates with an assertion for this endpoint or the token endpoint, at both endpoints", async () => {
    const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: "device-key", alg: "ES256", use: "sig" };
    const { clientId } = await createClient({ grantTypes: [DEVICE_GRANT], tokenEndpointAuthMethod: "private_key_jwt", jwks: { keys: [jwk] } });
    const assertion = (aud: string) =>
      new SignJWT({ iss: clientId, sub: clientId, aud, jti: crypto.randomUUID() })
        .setProtectedHeader({ alg: "ES256", kid: "device-key" })
        .setIssuedAt()
        .setExpirationTime("1m")
        .sign(privateKey);
    const asClient = async (aud: string, fields: Record<string, string>) =>
      form({ ...fields, client_id: clientId, client_assertion_type: CLIENT_ASSERTION_TYPE, client_assertion: await assertion(aud) });
    const post = (url: string, body: string) => SELF.fetch(url, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body });
    for (const aud of [`${ISSUER}/device_authorization/`, `${ISSUER}/token/`]) {
      const res = await post(`${ISSUER}/device_authorization/`, await asClient(aud, {}));
      expect(res.status, await res.clone().text()).toBe(200);
    }
    const codes = (await (await post(`${ISSUER}/device_authorization/`, await asClient(`${ISSUER}/token/`, {}))).json()) as DeviceCodes;
    const user = await signedIn("device");
    expect((await decide(user.browser, codes.user_code, "approve")).status).toBe(200);
    await expectTokens(await post(`${ISSUER}/token/`, await asClient(`${ISSUER}/token/`, { grant_type: DEVICE_GRANT, device_code: codes.device_code })));
    const wrongAudience = await post(`${ISSUER}/device_authorization/`, await asClient("https://elsewhere.example/token", {}));
    expect(wrongAudience.status).toBe(401);
  });

  it("a client without the device grant: unauthorized_client", async () => {
    const client = await deviceClient(["client_credentials"], "confidential");
    await expectTokenError(await requestCodes(client), "unauthorized_client");
  });

  it("an unknown or disallowed scope: invalid_scope; an unknown resource: invalid_target", async () => {
    const client = await deviceClient();
    await expectTokenError(await requestCodes(client, { scope: "read admin" }), "invalid_scope");
    await expectTokenError(await requestCodes(client, { resource: "https://elsewhere.example.net/api" }), "invalid_target");
  });

  it("answers only POST", async () => {
    expect((await SELF.fetch(`${ISSUER}/device_authorization/`)).status).toBe(405);
  });
});

describe("the whole flow", () => {
  it("device request → sign in → enter the code → approve → the poll gets access, refresh and ID tokens", async () => {
    const client = await deviceClient();
    const codes = await codesFor(client, { scope: "openid read" });
    await expectTokenError(await poll(client, codes.device_code), "authorization_pending");

    const user = await signedIn("device");
    const { res, html } = await enterCode(user.browser, codes.user_code);
    expect(res.status).toBe(200);
    // RFC 8628 §5.4: the client, the scopes described, and the code to compare with the device's.
    expect(html).toContain("Living room TV");
    expect(html).toContain(client.clientId);
    expect(html).toContain(codes.user_code);
    expect(html).toContain("Read your data");
    expect(html).toContain("Sign you in");
    const approved = await user.browser.post(PAGE, { ...hiddenFields(html), decision: "approve" });
    expect(approved.status).toBe(200);
    expect(await approved.text()).toContain("Device connected");

    advance(6);
    const tokens = (await expectTokens(await poll(client, codes.device_code))) as Awaited<ReturnType<typeof expectTokens>> & { id_token?: string };
    expect(tokens.scope).toBe("openid read");
    expect(tokens.refresh_token).toBeTruthy();
    expect(decodeJwt(tokens.access_token)).toMatchObject({ sub: user.id, client_id: client.clientId });
    const { payload } = await verifyIdToken(tokens.id_token!, client.clientId);
    expect(payload.sub).toBe(user.id);
    expect(payload.auth_time).toBeTypeOf("number");

    // The refresh token works as any other.
    const refreshed = await expectTokens(await tokenRequest(client, { grant_type: "refresh_token", refresh_token: tokens.refresh_token! }));
    expect(refreshed.scope).toBe("openid read");
  });

  it("without the refresh_token grant, no refresh token; without openid, no ID token", async () => {
    const client = await deviceClient([DEVICE_GRANT]);
    const { codes } = await decided(client, "approve", { scope: "read" });
    const tokens: Record<string, unknown> = { ...(await expectTokens(await poll(client, codes.device_code))) };
    expect(tokens.refresh_token).toBeUndefined();
    expect(tokens.id_token).toBeUndefined();
  });

  it("a confidential client polls with its secret", async () => {
    const client = await deviceClient([DEVICE_GRANT], "confidential");
    const { codes } = await decided(client, "approve");
    await expectTokenError(await poll({ ...client, clientSecret: "wrong" }, codes.device_code), "invalid_client");
    await expectTokens(await poll(client, codes.device_code));
  });

  it("the approval shows on the authorized-tokens page", async () => {
    const client = await deviceClient();
    const { codes, user } = await decided(client, "approve", { scope: "read" });
    await expectTokens(await poll(client, codes.device_code));
    const page = await user.browser.get("/o/authorized_tokens/");
    const html = await page.text();
    expect(html).toContain("Living room TV");
    expect(html).toContain("Read your data");
  });
});

describe("storage and events", () => {
  it("a request costs one D1 round-trip, a poll one batch (two with tokens: the code spent with the refresh token), and no KV", async () => {
    const client = await deviceClient();
    await codesFor(client); // warms this isolate's client cache
    const request = await requestCodes(client);
    const codes = (await request.clone().json()) as DeviceCodes;
    expect(storageOps(request)).toMatchObject({ d1: 1, kv: 0 });
    const pending = await poll(client, codes.device_code);
    expect(pending.status).toBe(400);
    expect(storageOps(pending)).toMatchObject({ d1: 1, d1_statements: 3, kv: 0 });
    const user = await signedIn("device");
    expect((await decide(user.browser, codes.user_code, "approve")).status).toBe(200);
    const tokens = await poll(client, codes.device_code);
    expect(tokens.status).toBe(200);
    expect(storageOps(tokens)).toMatchObject({ d1: 2, kv: 0 });
  });

  it("tells of the decision and the tokens: authorization.granted or denied, token.issued with grantType device_code", async () => {
    const events: ProviderEvent[] = [];
    const app = createProvider({ events: (event) => void events.push(event) });
    const client = await deviceClient();
    const codes = (await (await app.request(`${ISSUER}/device_authorization/`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: form({ client_id: client.clientId, scope: "read" }) }, env)).json()) as DeviceCodes;
    const user = await signedIn("device");
    const entry = await user.browser.get(PAGE);
    const fields = hiddenFields(await entry.text());
    // The page's POSTs go to the recording provider, with the browser's cookies.
    const post = async (body: Record<string, string>) =>
      app.request(`${ISSUER}/device/`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", origin: BASE, cookie: [...user.browser.cookies].map(([k, v]) => `${k}=${v}`).join("; ") }, body: form(body) }, env);
    const confirm = await post({ ...fields, user_code: codes.user_code });
    expect(confirm.status).toBe(200);
    expect((await post({ ...hiddenFields(await confirm.text()), decision: "approve" })).status).toBe(200);
    expect(events).toContainEqual({ type: "authorization.granted", clientId: client.clientId, userId: user.id, scope: ["read"] });
    const res = await app.request(`${ISSUER}/token/`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: form({ grant_type: DEVICE_GRANT, device_code: codes.device_code, client_id: client.clientId }) }, env);
    expect(res.status).toBe(200);
    expect(events).toContainEqual({ type: "token.issued", grantType: "device_code", clientId: client.clientId, userId: user.id, scope: "read" });

    const denied = (await (await app.request(`${ISSUER}/device_authorization/`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: form({ client_id: client.clientId }) }, env)).json()) as DeviceCodes;
    const again = await post({ ...fields, user_code: denied.user_code });
    expect((await post({ ...hiddenFields(await again.text()), decision: "deny" })).status).toBe(200);
    expect(events).toContainEqual({ type: "authorization.denied", clientId: client.clientId, userId: user.id });
  });
});

describe("polling errors (RFC 8628 §3.5)", () => {
  it("authorization_pending until the user decides", async () => {
    const client = await deviceClient();
    const codes = await codesFor(client);
    await expectTokenError(await poll(client, codes.device_code), "authorization_pending");
    advance(6);
    await expectTokenError(await poll(client, codes.device_code), "authorization_pending");
  });

  it("slow_down when polled faster than the interval, which then grows by 5 seconds", async () => {
    const client = await deviceClient();
    const codes = await codesFor(client);
    await expectTokenError(await poll(client, codes.device_code), "authorization_pending");
    const body = await expectTokenError(await poll(client, codes.device_code), "slow_down");
    expect(body.error_description).toContain("10 seconds");
    // 6 s later is within the new 10 s interval: slower still.
    advance(6);
    const again = await expectTokenError(await poll(client, codes.device_code), "slow_down");
    expect(again.error_description).toContain("15 seconds");
    advance(16);
    await expectTokenError(await poll(client, codes.device_code), "authorization_pending");
  });

  it("access_denied once the user denied (and the device gets nothing later)", async () => {
    const client = await deviceClient();
    const { codes, html } = await decided(client, "deny");
    expect(html).toContain("Request denied");
    await expectTokenError(await poll(client, codes.device_code), "access_denied");
    advance(6);
    await expectTokenError(await poll(client, codes.device_code), "access_denied");
  });

  it("expired_token after expires_in, also for an approved code; and the page no longer takes the code", async () => {
    const client = await deviceClient();
    const codes = await codesFor(client);
    advance(601);
    await expectTokenError(await poll(client, codes.device_code), "expired_token");
    const user = await signedIn("device");
    const { res, html } = await enterCode(user.browser, codes.user_code);
    expect(res.status).toBe(400);
    expect(html).toContain("No device is waiting for this code");

    vi.useRealTimers();
    const approved = await decided(client, "approve");
    advance(601);
    await expectTokenError(await poll(client, approved.codes.device_code), "expired_token");
  });

  it("a code used twice: invalid_grant", async () => {
    const client = await deviceClient();
    const { codes } = await decided(client, "approve");
    await expectTokens(await poll(client, codes.device_code));
    await expectTokenError(await poll(client, codes.device_code), "invalid_grant");
    advance(6);
    await expectTokenError(await poll(client, codes.device_code), "invalid_grant");
  });

  it("a failure while issuing leaves the code approved with nothing issued: the next poll gets tokens that work, once", async () => {
    const client = await deviceClient();
    const { codes, user } = await decided(client, "approve", { scope: "read" });
    // A real D1 failure of the refresh token's insert, for this user only.
    const trigger = `fail_refresh_${user.id.replace(/-/g, "")}`;
    await env.DB.prepare(`CREATE TRIGGER ${trigger} BEFORE INSERT ON refresh_tokens WHEN NEW.user_id = '${user.id}' BEGIN SELECT RAISE(ABORT, 'injected failure'); END`).run();
    try {
      expect((await poll(client, codes.device_code)).status).toBe(500);
    } finally {
      await env.DB.prepare(`DROP TRIGGER ${trigger}`).run();
    }
    const tokens = await expectTokens(await poll(client, codes.device_code));
    await expectTokens(await tokenRequest(client, { grant_type: "refresh_token", refresh_token: tokens.refresh_token! }));
    await expectTokenError(await poll(client, codes.device_code), "invalid_grant");
  });

  it("concurrent polls after approval: exactly one gets tokens", async () => {
    const client = await deviceClient();
    const { codes } = await decided(client, "approve");
    const answers = await Promise.all(Array.from({ length: 6 }, () => poll(client, codes.device_code)));
    const statuses = answers.map((res) => res.status);
    expect(statuses.filter((status) => status === 200)).toHaveLength(1);
    for (const res of answers.filter((r) => r.status !== 200)) expect(((await res.json()) as { error: string }).error).toBe("invalid_grant");
  });

  it("another client polling with a device code: invalid_grant, and the code still works for its own client", async () => {
    const client = await deviceClient();
    const other = await deviceClient();
    const { codes } = await decided(client, "approve");
    await expectTokenError(await poll(other, codes.device_code), "invalid_grant");
    await expectTokens(await poll(client, codes.device_code));
  });

  it("a user disabled after approving: invalid_grant, no tokens", async () => {
    const client = await deviceClient();
    const { codes, user } = await decided(client, "approve");
    await setUserActive(db(), user.username, false);
    await expectTokenError(await poll(client, codes.device_code), "invalid_grant");
  });

  it("an unknown device code, or none: invalid_grant, invalid_request", async () => {
    const client = await deviceClient();
    await expectTokenError(await poll(client, "not-a-device-code"), "invalid_grant");
    await expectTokenError(await tokenRequest(client, { grant_type: DEVICE_GRANT }), "invalid_request");
  });

  it("a client without the device grant polling: unauthorized_client", async () => {
    const client = await deviceClient();
    const codes = await codesFor(client);
    const other = await deviceClient(["client_credentials"], "confidential");
    await expectTokenError(await poll(other, codes.device_code), "unauthorized_client");
  });

  it("a resource beyond the approved ones: invalid_target, and the approval stands for a corrected poll", async () => {
    const client = await deviceClient();
    const { codes } = await decided(client, "approve");
    await expectTokenError(await poll(client, codes.device_code, { resource: `${BASE}/other-api` }), "invalid_target");
    await expectTokens(await poll(client, codes.device_code));
  });
});

describe("the verification page", () => {
  it("not signed in: to the login page, and back to the page with the code afterwards", async () => {
    const client = await deviceClient();
    const codes = await codesFor(client);
    const browser = new Browser();
    const first = await browser.get(codes.verification_uri_complete);
    expect(first.status).toBe(303);
    const login = new URL(first.headers.get("location")!, BASE);
    expect(login.pathname).toBe("/o/login/");
    expect(login.searchParams.get("next")).toBe(`/o/device/?user_code=${codes.user_code}`);

    const user = await newUser("device");
    const page = await browser.get(login.pathname + login.search);
    const signedInRes = await browser.post("/o/login/", { ...hiddenFields(await page.text()), username: user.username, password: PASSWORD });
    expect(signedInRes.status).toBe(303);
    const back = signedInRes.headers.get("location")!;
    expect(back).toBe(`/o/device/?user_code=${codes.user_code}`);

    // The code is filled in; the user still submits it, then approves.
    const entry = await browser.get(back);
    const html = await entry.text();
    expect(html).toContain(`name="user_code" value="${codes.user_code}"`);
    const confirm = await browser.post(PAGE, { ...hiddenFields(html), user_code: codes.user_code });
    expect(confirm.status).toBe(200);
    const done = await browser.post(PAGE, { ...hiddenFields(await confirm.text()), decision: "approve" });
    expect(done.status).toBe(200);
    await expectTokens(await poll(client, codes.device_code));
  });

  it("takes the code in lower case, with or without the dash, and with spaces", async () => {
    const client = await deviceClient();
    for (const typed of [(c: string) => c.toLowerCase(), (c: string) => c.replace("-", ""), (c: string) => ` ${c.toLowerCase().replace("-", " ")} `]) {
      const codes = await codesFor(client);
      const user = await signedIn("device");
      const { res, html } = await enterCode(user.browser, typed(codes.user_code));
      expect(res.status, html).toBe(200);
      expect(html).toContain(codes.user_code);
    }
  });

  it("an unknown code: the form again with an error; a malformed one says what a code looks like", async () => {
    const user = await signedIn("device");
    const unknown = await enterCode(user.browser, "BBBB-BBBB");
    expect(unknown.res.status).toBe(400);
    expect(unknown.html).toContain("No device is waiting for this code");
    const malformed = await enterCode(user.browser, "AEIO-U123");
    expect(malformed.res.status).toBe(400);
    expect(malformed.html).toContain("8 letters");
  });

  it("wrong codes are limited: after 5, even the right code is not looked up for that user", async () => {
    const client = await deviceClient();
    const codes = await codesFor(client);
    const user = await signedIn("device");
    for (let i = 0; i < 5; i++) expect((await enterCode(user.browser, "BBBB-BBBB")).res.status).toBe(400);
    const locked = await enterCode(user.browser, codes.user_code);
    expect(locked.res.status).toBe(429);
    expect(locked.html).toContain("Too many wrong codes");
    expect(locked.html).not.toContain("Living room TV");
    // Another user is not locked out by this one's guesses.
    const other = await signedIn("device");
    expect((await enterCode(other.browser, codes.user_code)).res.status).toBe(200);
  });

  it("right codes do not count towards the limit", async () => {
    const client = await deviceClient();
    const user = await signedIn("device");
    for (let i = 0; i < 4; i++) expect((await enterCode(user.browser, "BBBB-BBBB")).res.status).toBe(400);
    for (let i = 0; i < 3; i++) {
      const codes = await codesFor(client);
      expect((await enterCode(user.browser, codes.user_code)).res.status).toBe(200);
    }
    expect((await enterCode(user.browser, "BBBB-BBBB")).res.status).toBe(400);
    expect((await enterCode(user.browser, "BBBB-BBBB")).res.status).toBe(429);
  });

  it("CSRF: a POST without the token, or from another origin, changes nothing", async () => {
    const client = await deviceClient();
    const codes = await codesFor(client);
    const user = await signedIn("device");
    const { html } = await enterCode(user.browser, codes.user_code);
    const fields = hiddenFields(html);
    const noToken = await user.browser.post(PAGE, { user_code: codes.user_code, decision: "approve" });
    expect(noToken.status).toBe(403);
    const crossSite = await user.browser.post(PAGE, { ...fields, decision: "approve" }, { origin: "https://evil.example" });
    expect(crossSite.status).toBe(403);
    await expectTokenError(await poll(client, codes.device_code), "authorization_pending");
  });

  it("a code is decided once: approving it again, or denying after approval, is refused", async () => {
    const client = await deviceClient();
    const codes = await codesFor(client);
    const user = await signedIn("device");
    const { html } = await enterCode(user.browser, codes.user_code);
    const fields = hiddenFields(html);
    expect((await user.browser.post(PAGE, { ...fields, decision: "approve" })).status).toBe(200);
    expect((await user.browser.post(PAGE, { ...fields, decision: "deny" })).status).toBe(400);
    await expectTokens(await poll(client, codes.device_code));
  });

  it("createProvider({ pages }) replaces both of its pages", async () => {
    const app = createProvider({
      pages: {
        deviceCode: (props) => `<p>Type your code, ${props.username}</p>`,
        deviceConfirm: (props) => `<p>Connect ${props.client.name} showing ${props.userCode}?</p>`,
      },
    });
    const client = await deviceClient();
    const codes = await codesFor(client);
    const user = await signedIn("device");
    const cookie = [...user.browser.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    const entry = await app.request(`${ISSUER}/device/`, { headers: { cookie } }, env);
    expect(await entry.text()).toContain(`Type your code, ${user.username}`);
    const fields = hiddenFields(await (await user.browser.get(PAGE)).text());
    const confirm = await app.request(
      `${ISSUER}/device/`,
      { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", origin: BASE, cookie }, body: form({ ...fields, user_code: codes.user_code }) },
      env,
    );
    expect(await confirm.text()).toContain(`Connect Living room TV showing ${codes.user_code}?`);
    expect(confirm.headers.get("x-frame-options")).toBe("DENY");
  });

  it("the decision POST needs a signed-in user", async () => {
    const client = await deviceClient();
    const codes = await codesFor(client);
    const res = await new Browser().post(PAGE, { user_code: codes.user_code, decision: "approve" });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toMatch(/^\/o\/login\//);
  });
});

describe("metadata and registration", () => {
  it("discovery advertises the endpoint and the grant", async () => {
    const res = await SELF.fetch(`${ISSUER}/.well-known/openid-configuration`);
    const metadata = (await res.json()) as { device_authorization_endpoint: string; grant_types_supported: string[] };
    expect(metadata.device_authorization_endpoint).toBe(`${ISSUER}/device_authorization/`);
    expect(metadata.grant_types_supported).toContain(DEVICE_GRANT);
  });

  it("dynamic registration accepts the grant for public and confidential clients, and the client then uses it", async () => {
    const app = createProvider({ settings: { DYNAMIC_REGISTRATION: "open" } });
    const register = async (metadata: Record<string, unknown>) => {
      const res = await app.request(
        `${ISSUER}/register/`,
        { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(metadata) },
        env,
      );
      const text = await res.text();
      expect(res.status, text).toBe(201);
      return JSON.parse(text) as { client_id: string; client_secret?: string; grant_types: string[] };
    };
    const device = await register({ client_name: "Registered TV", grant_types: [DEVICE_GRANT, "refresh_token"], token_endpoint_auth_method: "none", scope: "read" });
    expect(device.grant_types).toEqual([DEVICE_GRANT, "refresh_token"]);
    const confidential = await register({ client_name: "Registered CLI", grant_types: [DEVICE_GRANT], scope: "read" });
    const client = { clientId: confidential.client_id, clientSecret: confidential.client_secret! };
    const { codes } = await decided(client, "approve");
    await expectTokens(await poll(client, codes.device_code));
    await codesFor({ clientId: device.client_id, clientSecret: "" });
  });
});
