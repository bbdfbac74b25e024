import { env, SELF } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { ProviderEvent } from "../../src/core/events";
import { findClient } from "../../src/db/clients";
import { createInitialAccessToken } from "../../src/db/initial-access-tokens";
import { clients } from "../../src/db/schema";
import { createProvider } from "../../src/provider";
import { redirectParams } from "./support/browser";
import { authorizeUrl, codeRequest, expectConsentPage, exchangeCode, expectTokenError, expectTokens, getCode, REDIRECT, signedIn, unique } from "./support/flow";
import { basic, BASE, createClient, db, form, ISSUER } from "./support/helpers";

/**
 * Issue 12: Dynamic Client Registration (RFC 7591) at {basePath}/register/, its management
 * protocol (RFC 7592) at {basePath}/register/{client_id}, and initial access tokens. The ready
 * Worker (SELF) has registration off, its default; these tests mount providers with it on, over
 * the same D1 and KV, and use the ready Worker for the flows a registered client then runs.
 */

type App = ReturnType<typeof createProvider>;
type Json = Record<string, unknown>;

function recording(mode: "open" | "token") {
  const events: ProviderEvent[] = [];
  const app = createProvider({ settings: { DYNAMIC_REGISTRATION: mode }, events: (event) => void events.push(event) });
  return { app, events };
}
const open = recording("open");
const tokenMode = recording("token");

const REGISTER = `${ISSUER}/register/`;

function register(app: App, metadata: unknown, headers: Record<string, string> = {}): Promise<Response> {
  const body = typeof metadata === "string" ? metadata : JSON.stringify(metadata);
  return Promise.resolve(app.request(REGISTER, { method: "POST", headers: { "content-type": "application/json", ...headers }, body }, env));
}

function manage(app: App, url: string, method: string, token?: string, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  if (body !== undefined) headers["content-type"] = "application/json";
  return Promise.resolve(app.request(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }, env));
}

const publicMetadata = (extra: Json = {}): Json => ({
  client_name: unique("Public "),
  redirect_uris: [REDIRECT],
  grant_types: ["authorization_code", "refresh_token"],
  token_endpoint_auth_method: "none",
  scope: "read write",
  ...extra,
});

const serviceMetadata = (extra: Json = {}): Json => ({
  client_name: unique("Service "),
  grant_types: ["client_credentials"],
  response_types: [],
  token_endpoint_auth_method: "client_secret_post",
  scope: "read write",
  ...extra,
});

async function registered(app: App, metadata: Json, headers: Record<string, string> = {}): Promise<Json> {
  const res = await register(app, metadata, headers);
  const text = await res.text();
  expect(res.status, text).toBe(201);
  return JSON.parse(text) as Json;
}

/** An unlimited initial access token, made once: open registration refuses client_credentials. */
let vouching: Promise<string> | undefined;
const vouchingToken = () => (vouching ??= createInitialAccessToken(db(), { note: "registration tests" }).then(({ token }) => token));
async function registeredWithToken(metadata: Json): Promise<Json> {
  return registered(tokenMode.app, metadata, { authorization: `Bearer ${await vouchingToken()}` });
}

async function expectError(res: Response, status: number, error: string): Promise<Json> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  const body = JSON.parse(text) as Json;
  expect(body.error).toBe(error);
  expect(body.error_description).toMatch(/^[\x20\x21\x23-\x5b\x5d-\x7e]{6,}$/);
  expect(res.headers.get("cache-control")).toBe("no-store");
  return body;
}

async function expectInvalidToken(res: Response, description?: RegExp): Promise<void> {
  const body = await expectError(res, 401, "invalid_token");
  if (description) expect(body.error_description).toMatch(description);
  expect(res.headers.get("www-authenticate")).toMatch(/^Bearer realm="registration", error="invalid_token"/);
}

/** A bare challenge: RFC 6750 §3.1, no error code when no token was sent. */
async function expectTokenRequired(res: Response): Promise<void> {
  expect(res.status).toBe(401);
  expect(res.headers.get("www-authenticate")).toBe('Bearer realm="registration"');
  await res.body?.cancel();
}

const clientNamed = (name: string) => db().select().from(clients).where(eq(clients.name, name)).get();

function postToken(app: App | undefined, fields: Record<string, string>, headers: Record<string, string> = {}) {
  const init = { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", ...headers }, body: form(fields) };
  return app ? Promise.resolve(app.request(`${ISSUER}/token/`, init, env)) : SELF.fetch(`${ISSUER}/token/`, init);
}

describe("registration is off unless DYNAMIC_REGISTRATION says otherwise", () => {
  it("off (the ready Worker's default): both endpoints answer 404 with an RFC error body, and discovery names none", async () => {
    const res = await SELF.fetch(REGISTER, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(publicMetadata()) });
    const body = await expectError(res, 404, "invalid_request");
    expect(body.error_description).toMatch(/not enabled/);
    await expectError(await SELF.fetch(`${ISSUER}/register/someclient`), 404, "invalid_request");
    const discovery = await (await SELF.fetch(`${ISSUER}/.well-known/openid-configuration`)).json<Json>();
    expect(discovery).not.toHaveProperty("registration_endpoint");
  });

  it("open or token: discovery advertises the endpoint", async () => {
    for (const { app } of [open, tokenMode]) {
      const discovery = await (await app.request(`${ISSUER}/.well-known/oauth-authorization-server`, {}, env)).json<Json>();
      expect(discovery.registration_endpoint).toBe(REGISTER);
    }
  });
});

describe("POST /register/ (RFC 7591), DYNAMIC_REGISTRATION=open", () => {
  it("a public client registers, then completes authorization code + PKCE on the ready Worker", async () => {
    const metadata = publicMetadata();
    const res = await register(open.app, metadata);
    expect(res.status).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const info = await res.json<Json>();
    const clientId = info.client_id as string;
    expect(clientId).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(info).toMatchObject({
      client_name: metadata.client_name,
      redirect_uris: [REDIRECT],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
      scope: "read write",
      client_id_issued_at: expect.any(Number),
      registration_access_token: expect.stringMatching(/^[\w-]{43}$/),
      registration_client_uri: `${ISSUER}/register/${clientId}`,
    });
    expect(info).not.toHaveProperty("client_secret");
    expect(info).not.toHaveProperty("client_secret_expires_at");
    expect(Math.abs((info.client_id_issued_at as number) - Date.now() / 1000)).toBeLessThan(60);

    // Stored as a registered client, its token only as a hash.
    const row = (await findClient(db(), clientId))!;
    expect(row).toMatchObject({ source: "registration", clientType: "public", secretHash: null });
    expect(row.registrationAccessTokenHash).toMatch(/^[\w-]{43}$/);
    expect(row.registrationAccessTokenHash).not.toBe(info.registration_access_token);

    const { browser } = await signedIn("dcr");
    const code = await getCode(browser, codeRequest(clientId));
    const tokens = await expectTokens(await exchangeCode({ clientId, clientSecret: "" }, code));
    expect(tokens).toMatchObject({ token_type: "Bearer", scope: "read write", refresh_token: expect.any(String) });
    // A public client without PKCE is refused, as any public client is.
    const withoutPkce = await browser.get(authorizeUrl(codeRequest(clientId, { code_challenge: undefined, code_challenge_method: undefined })));
    expect(redirectParams(withoutPkce).get("error")).toBe("invalid_request");
    expect(open.events).toContainEqual({ type: "client.registered", clientId, source: "registration" });
  });

  it("a confidential client gets its secret once and a client_credentials token; its auth method is the only one accepted", async () => {
    const info = await registeredWithToken(serviceMetadata());
    const clientId = info.client_id as string;
    const secret = info.client_secret as string;
    expect(secret).toMatch(/^[\w-]{43}$/);
    expect(info).toMatchObject({ client_secret_expires_at: 0, token_endpoint_auth_method: "client_secret_post", grant_types: ["client_credentials"], response_types: [] });
    expect((await findClient(db(), clientId))!.secretHash).not.toBe(secret);

    const ok = await expectTokens(await postToken(undefined, { grant_type: "client_credentials", scope: "read", client_id: clientId, client_secret: secret }));
    expect(ok.scope).toBe("read");
    await expectTokenError(await postToken(undefined, { grant_type: "client_credentials", scope: "read" }, { authorization: basic(clientId, secret) }), "invalid_client");

    // Without token_endpoint_auth_method: client_secret_basic (RFC 7591 §2), and then only Basic.
    const basicClient = await registeredWithToken(serviceMetadata({ token_endpoint_auth_method: undefined }));
    expect(basicClient.token_endpoint_auth_method).toBe("client_secret_basic");
    const id = basicClient.client_id as string;
    const basicSecret = basicClient.client_secret as string;
    await expectTokens(await postToken(undefined, { grant_type: "client_credentials" }, { authorization: basic(id, basicSecret) }));
    await expectTokenError(await postToken(undefined, { grant_type: "client_credentials", client_id: id, client_secret: basicSecret }), "invalid_client");
  });

  it("open registration gives no one tokens without a user (client_credentials), nor the introspection scope in any mode", async () => {
    const refused = await expectError(await register(open.app, serviceMetadata()), 400, "invalid_client_metadata");
    expect(refused.error_description).toMatch(/client_credentials needs an initial access token/);
    // A confidential client that signs users in is fine.
    await registered(open.app, publicMetadata({ token_endpoint_auth_method: "client_secret_basic" }));

    const SCOPES = { read: "Read", introspection: "Introspect any token" };
    for (const mode of ["open", "token"] as const) {
      const app = createProvider({ settings: { DYNAMIC_REGISTRATION: mode, SCOPES } });
      const headers: Record<string, string> = mode === "token" ? { authorization: `Bearer ${await vouchingToken()}` } : {};
      const res = await register(app, publicMetadata({ scope: "openid introspection" }), headers);
      const body = await expectError(res, 400, "invalid_client_metadata");
      expect(body.error_description).toMatch(/introspection scope is given by an operator only/);
      await registered(app, publicMetadata({ scope: "openid read" }), headers);
    }
  });

  it("unknown metadata is ignored; display metadata is kept and shown back", async () => {
    const info = await registered(
      open.app,
      publicMetadata({
        frobnicate: { deep: true },
        client_uri: "https://app.example.com/",
        logo_uri: "https://app.example.com/logo.png",
        contacts: ["ops@app.example.com"],
        software_id: "4NRB1-0XZABZI9E6-5SM3R",
        software_version: "2.1",
        allowed_origins: ["https://evil.example"],
        skip_authorization: true,
      }),
    );
    expect(info).toMatchObject({
      client_uri: "https://app.example.com/",
      logo_uri: "https://app.example.com/logo.png",
      contacts: ["ops@app.example.com"],
      software_id: "4NRB1-0XZABZI9E6-5SM3R",
      software_version: "2.1",
    });
    for (const ignored of ["frobnicate", "allowed_origins", "skip_authorization"]) expect(info).not.toHaveProperty(ignored);
    // Nothing an operator alone may grant comes from registration: no CORS origins it names (only its
    // redirect URIs' own, below), no skipped consent.
    expect(await findClient(db(), info.client_id as string)).toMatchObject({ allowedOrigins: [new URL(REDIRECT).origin], skipAuthorization: false });
  });

  const INVALID: [string, Json | unknown, string][] = [
    ["an http redirect URI on a host other than loopback", publicMetadata({ redirect_uris: ["http://app.example.com/cb"] }), "invalid_redirect_uri"],
    ["a redirect URI with a fragment", publicMetadata({ redirect_uris: ["https://app.example.com/cb#frag"] }), "invalid_redirect_uri"],
    ["a custom-scheme redirect URI", publicMetadata({ redirect_uris: ["com.example.app:/callback"] }), "invalid_redirect_uri"],
    ["a javascript: redirect URI", publicMetadata({ redirect_uris: ["javascript:alert(1)"] }), "invalid_redirect_uri"],
    ["a relative redirect URI", publicMetadata({ redirect_uris: ["/callback"] }), "invalid_redirect_uri"],
    ["21 redirect URIs", publicMetadata({ redirect_uris: Array.from({ length: 21 }, (_, i) => `https://app.example.com/cb${i}`) }), "invalid_redirect_uri"],
    ["a redirect URI with credentials", publicMetadata({ redirect_uris: ["https://user:pw@app.example.com/cb"] }), "invalid_redirect_uri"],
    ["an http post-logout redirect URI", publicMetadata({ post_logout_redirect_uris: ["http://app.example.com/bye"] }), "invalid_redirect_uri"],
    ["authorization_code without a redirect URI", publicMetadata({ redirect_uris: [] }), "invalid_redirect_uri"],
    ["the implicit grant", publicMetadata({ grant_types: ["implicit"], response_types: ["token"] }), "invalid_client_metadata"],
    ["the password grant", serviceMetadata({ grant_types: ["password"] }), "invalid_client_metadata"],
    ["response_type token", publicMetadata({ response_types: ["code", "token"] }), "invalid_client_metadata"],
    ["response_types code without the authorization_code grant", serviceMetadata({ response_types: ["code"] }), "invalid_client_metadata"],
    ["the authorization_code grant without response_types code", publicMetadata({ response_types: [] }), "invalid_client_metadata"],
    ["private_key_jwt", serviceMetadata({ token_endpoint_auth_method: "private_key_jwt", jwks_uri: "https://app.example.com/jwks" }), "invalid_client_metadata"],
    ["a public client with client_credentials", serviceMetadata({ token_endpoint_auth_method: "none" }), "invalid_client_metadata"],
    ["a software statement", publicMetadata({ software_statement: "eyJhbGciOiJSUzI1NiJ9.e30.c2ln" }), "invalid_software_statement"],
    ["a scope this server does not have", publicMetadata({ scope: "read admin" }), "invalid_client_metadata"],
    ["redirect_uris that is not a list of strings", publicMetadata({ redirect_uris: REDIRECT }), "invalid_client_metadata"],
    ["a client_name that is not a string", publicMetadata({ client_name: 42 }), "invalid_client_metadata"],
    ["a logo_uri that is not a URL", publicMetadata({ logo_uri: "javascript:alert(1)" }), "invalid_client_metadata"],
    ["an unknown subject_type", publicMetadata({ subject_type: "anonymous" }), "invalid_client_metadata"],
    ["pairwise with redirect URIs on two hosts", publicMetadata({ subject_type: "pairwise", redirect_uris: [REDIRECT, "https://other.example.com/cb"] }), "invalid_client_metadata"],
    ["a JSON array", [publicMetadata()], "invalid_client_metadata"],
    ["a JSON string", "\"client\"", "invalid_client_metadata"],
    ["JSON null", "null", "invalid_client_metadata"],
  ];

  it.each(INVALID)("refuses %s, and stores nothing", async (_case, metadata, error) => {
    const name = typeof metadata === "object" && metadata !== null && !Array.isArray(metadata) ? (metadata as Json).client_name : undefined;
    const res = await register(open.app, metadata);
    await expectError(res, 400, error);
    if (typeof name === "string") expect(await clientNamed(name)).toBeUndefined();
  });

  it("refuses what is not a JSON body: another content type, malformed JSON, invalid UTF-8, a body over MAX_BODY_BYTES", async () => {
    const metadata = JSON.stringify(publicMetadata());
    const post = (body: BodyInit, headers: Record<string, string>) =>
      Promise.resolve(open.app.request(REGISTER, { method: "POST", headers, body }, env));
    await expectError(await post(form({ client_name: "x" }), { "content-type": "application/x-www-form-urlencoded" }), 400, "invalid_request");
    await expectError(await post(metadata, { "content-type": "text/plain" }), 400, "invalid_request");
    await expectError(await post(metadata, {}), 400, "invalid_request");
    await expectError(await post("{\"client_name\": ", { "content-type": "application/json" }), 400, "invalid_request");
    await expectError(await post(new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]), { "content-type": "application/json" }), 400, "invalid_request");
    // A charset parameter is fine.
    expect((await post(metadata, { "content-type": "application/json; charset=utf-8" })).status).toBe(201);

    const huge = JSON.stringify(publicMetadata({ padding: "x".repeat(64 * 1024) }));
    await expectError(await post(huge, { "content-type": "application/json" }), 413, "invalid_request");
    // Without a Content-Length (a stream): counted as it is read.
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 20; i++) controller.enqueue(new TextEncoder().encode(" ".repeat(4096)));
        controller.close();
      },
    });
    await expectError(await post(stream, { "content-type": "application/json" }), 413, "invalid_request");
  });

  it("answers only POST (and CORS preflights) at /register/, with and without the trailing slash", async () => {
    for (const url of [REGISTER, REGISTER.slice(0, -1)]) {
      const res = await open.app.request(url, { method: "GET" }, env);
      await expectError(res, 405, "invalid_request");
      expect(res.headers.get("allow")).toBe("POST, OPTIONS");
    }
    expect((await register(open.app, publicMetadata()).then((r) => r.status))).toBe(201);
    const noSlash = await open.app.request(REGISTER.slice(0, -1), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(publicMetadata()) }, env);
    expect(noSlash.status).toBe(201);
  });

  it("any origin may register (CORS *), on success and on error; the management endpoint has no CORS", async () => {
    const origin = "https://inspector.example";
    const preflight = await open.app.request(
      REGISTER,
      { method: "OPTIONS", headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type" } },
      env,
    );
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("*");
    expect(preflight.headers.get("access-control-allow-methods")).toContain("POST");
    expect(preflight.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("content-type");
    expect(preflight.headers.get("access-control-allow-credentials")).toBeNull();

    const ok = await register(open.app, publicMetadata(), { origin });
    expect(ok.status).toBe(201);
    expect(ok.headers.get("access-control-allow-origin")).toBe("*");
    const info = await ok.json<Json>();
    const refused = await register(open.app, publicMetadata({ grant_types: ["password"] }), { origin });
    expect(refused.status).toBe(400);
    expect(refused.headers.get("access-control-allow-origin")).toBe("*");

    const read = await open.app.request(info.registration_client_uri as string, { headers: { origin, authorization: `Bearer ${info.registration_access_token as string}` } }, env);
    expect(read.status).toBe(200);
    expect(read.headers.get("access-control-allow-origin")).toBeNull();
    const managementPreflight = await open.app.request(info.registration_client_uri as string, { method: "OPTIONS", headers: { origin } }, env);
    expect(managementPreflight.status).toBe(405);
    expect(managementPreflight.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("is rate-limited per address through REGISTER_RATE_LIMIT (10 a minute in wrangler.toml)", { timeout: 30_000 }, async () => {
    // Fixed windows aligned to the clock: start far enough from a window's end.
    const left = 60_000 - (Date.now() % 60_000);
    if (left < 10_000) await new Promise((resolve) => setTimeout(resolve, left + 200));
    const address = `198.51.100.${Math.floor(Math.random() * 200) + 20}`;
    const cheap = () => register(open.app, {}, { "cf-connecting-ip": address });
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await cheap()).status);
    expect(statuses).toEqual(Array(10).fill(400));
    const refused = await cheap();
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("60");
    expect((await refused.json<Json>()).error).toBe("too_many_requests");
    // Another address is not affected.
    expect((await register(open.app, {}, { "cf-connecting-ip": "198.51.100.7" })).status).toBe(400);
  });
});

describe("DYNAMIC_REGISTRATION=token: initial access tokens (RFC 7591 §3)", () => {
  const newToken = async (options: Parameters<typeof createInitialAccessToken>[1], now?: number) =>
    (await createInitialAccessToken(db(), options, now)).token;
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  it("without a token, or with anything but a Bearer token, registration is refused with a challenge", async () => {
    await expectTokenRequired(await register(tokenMode.app, publicMetadata()));
    await expectTokenRequired(await register(tokenMode.app, publicMetadata(), { authorization: "Basic dXNlcjpwYXNz" }));
    const malformed = await register(tokenMode.app, publicMetadata(), { authorization: "Bearer two words" });
    expect(malformed.status).toBe(400);
    expect(malformed.headers.get("www-authenticate")).toMatch(/^Bearer realm="registration", error="invalid_request"/);
  });

  it("an unknown, expired or used-up token is invalid_token; a valid one registers", async () => {
    await expectInvalidToken(await register(tokenMode.app, publicMetadata(), bearer("not-a-token-we-issued")));
    const expired = await newToken({ expiresInSeconds: 60 }, Math.floor(Date.now() / 1000) - 61);
    const metadata = publicMetadata();
    await expectInvalidToken(await register(tokenMode.app, metadata, bearer(expired)), /unknown, expired or used up/);
    expect(await clientNamed(metadata.client_name as string)).toBeUndefined();

    const once = await newToken({ uses: 1, expiresInSeconds: 600, note: "for a partner" });
    const info = await registered(tokenMode.app, publicMetadata(), bearer(once));
    expect((await findClient(db(), info.client_id as string))!.source).toBe("registration");
    await expectInvalidToken(await register(tokenMode.app, publicMetadata(), bearer(once)));
    expect(tokenMode.events).toContainEqual({ type: "client.registered", clientId: info.client_id, source: "registration" });
  });

  it("refused metadata does not spend a use", async () => {
    const once = await newToken({ uses: 1 });
    await expectError(await register(tokenMode.app, publicMetadata({ grant_types: ["implicit"] }), bearer(once)), 400, "invalid_client_metadata");
    await expectError(await register(tokenMode.app, "{", { ...bearer(once), "content-type": "application/json" }), 400, "invalid_request");
    await registered(tokenMode.app, publicMetadata(), bearer(once));
    await expectInvalidToken(await register(tokenMode.app, publicMetadata(), bearer(once)));
  });

  it("parallel registrations never exceed the uses: one-use token → exactly one 201; three uses of eight tries → three", async () => {
    const once = await newToken({ uses: 1 });
    const pair = await Promise.all([register(tokenMode.app, publicMetadata(), bearer(once)), register(tokenMode.app, publicMetadata(), bearer(once))]);
    expect(pair.map((res) => res.status).sort()).toEqual([201, 401]);

    const three = await newToken({ uses: 3 });
    const tries = await Promise.all(Array.from({ length: 8 }, () => register(tokenMode.app, publicMetadata(), bearer(three))));
    const statuses = tries.map((res) => res.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(3);
    expect(statuses.filter((s) => s === 401)).toHaveLength(5);
  });

  it("a token without a use limit or expiry registers any number of clients; in open mode no token is needed", async () => {
    const unlimited = await newToken({});
    for (let i = 0; i < 3; i++) await registered(tokenMode.app, publicMetadata(), bearer(unlimited));
    await registered(open.app, publicMetadata());
  });
});

describe("the client configuration endpoint (RFC 7592)", () => {
  /** A client that registered itself; with client_credentials through an initial access token. */
  async function newRegistration(metadata: Json = publicMetadata()) {
    const vouched = (metadata.grant_types as string[] | undefined)?.includes("client_credentials");
    const info = vouched ? await registeredWithToken(metadata) : await registered(open.app, metadata);
    return { info, id: info.client_id as string, url: info.registration_client_uri as string, token: info.registration_access_token as string };
  }

  it("GET with the registration access token reads the registration, without the secret", async () => {
    const { info, url, token } = await newRegistration(serviceMetadata({ client_uri: "https://svc.example.com/" }));
    const res = await manage(open.app, url, "GET", token);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const { client_secret: _secret, ...withoutSecret } = info;
    expect(await res.json<Json>()).toEqual(withoutSecret);
  });

  it("refuses a missing token, a wrong one, another client's, and an unknown client alike (401 invalid_token)", async () => {
    const mine = await newRegistration();
    const other = await newRegistration();
    await expectTokenRequired(await manage(open.app, mine.url, "GET"));
    const wrong = await manage(open.app, mine.url, "GET", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    const others = await manage(open.app, mine.url, "GET", other.token);
    const unknown = await manage(open.app, `${ISSUER}/register/NoSuchClient0000000000000000000`, "GET", mine.token);
    const bodies: Json[] = [];
    for (const res of [wrong, others, unknown]) {
      const body = await expectError(res, 401, "invalid_token");
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer realm="registration", error="invalid_token"/);
      bodies.push(body);
    }
    // The same answer whether the client exists or not.
    expect(new Set(bodies.map((body) => JSON.stringify(body))).size).toBe(1);
    // Another client's token changes nothing either.
    await expectError(await manage(open.app, mine.url, "DELETE", other.token), 401, "invalid_token");
    expect(await findClient(db(), mine.id)).toBeDefined();
  });

  it("a client an operator created cannot be managed, whatever token is sent", async () => {
    const { clientId } = await createClient();
    const someone = await newRegistration();
    for (const method of ["GET", "PUT", "DELETE"]) {
      const res = await manage(open.app, `${ISSUER}/register/${clientId}`, method, someone.token, method === "PUT" ? { client_id: clientId, ...serviceMetadata() } : undefined);
      await expectError(res, 401, "invalid_token");
    }
    expect(await findClient(db(), clientId)).toMatchObject({ source: "admin" });
  });

  it("PUT replaces the registration; the change applies at once in this isolate", async () => {
    const { id, url, token, info } = await newRegistration(serviceMetadata({ scope: "read write", client_uri: "https://svc.example.com/" }));
    const secret = info.client_secret as string;
    const asClient = { client_id: id, client_secret: secret };
    // Cached by this isolate's first token request.
    await expectTokens(await postToken(open.app, { grant_type: "client_credentials", scope: "write", ...asClient }));

    const replaced = serviceMetadata({ client_name: "Renamed service", scope: "read" });
    // Open registration would refuse client_credentials on update too: this server asks for tokens.
    await expectError(await manage(open.app, url, "PUT", token, { client_id: id, ...replaced }), 400, "invalid_client_metadata");
    const res = await manage(tokenMode.app, url, "PUT", token, { client_id: id, ...replaced });
    const text = await res.text();
    expect(res.status, text).toBe(200);
    const updated = JSON.parse(text) as Json;
    expect(updated).toMatchObject({ client_id: id, client_name: "Renamed service", scope: "read", registration_access_token: token, registration_client_uri: url });
    // Full replacement: what the update left out is gone.
    expect(updated).not.toHaveProperty("client_uri");
    expect(updated).not.toHaveProperty("client_secret");
    expect(await (await manage(open.app, url, "GET", token)).json<Json>()).toEqual(updated);

    // The same secret and token still work; the narrower scope holds at once.
    await expectTokenError(await postToken(open.app, { grant_type: "client_credentials", scope: "write", ...asClient }), "invalid_scope");
    await expectTokens(await postToken(open.app, { grant_type: "client_credentials", scope: "read", ...asClient }));
    expect(tokenMode.events).toContainEqual({ type: "client.updated", clientId: id, source: "registration" });

    // The client's own secret may be sent along.
    const again = await manage(tokenMode.app, url, "PUT", token, { client_id: id, client_secret: secret, ...replaced });
    expect(again.status).toBe(200);
  });

  it("PUT refuses what RFC 7592 §2.2 forbids, and invalid metadata, and then changes nothing", async () => {
    const { id, url, token, info } = await newRegistration(serviceMetadata());
    const metadata = serviceMetadata();
    const cases: [Json | unknown, string][] = [
      [metadata, "invalid_request"],
      [{ ...metadata, client_id: "someone-else" }, "invalid_request"],
      [{ ...metadata, client_id: id, client_secret: "a secret of my choosing" }, "invalid_request"],
      [{ ...metadata, client_id: id, registration_access_token: token }, "invalid_request"],
      [{ ...metadata, client_id: id, registration_client_uri: url }, "invalid_request"],
      [{ ...metadata, client_id: id, client_id_issued_at: 1 }, "invalid_request"],
      [{ ...metadata, client_id: id, client_secret_expires_at: 0 }, "invalid_request"],
      [{ ...metadata, client_id: id, grant_types: ["password"] }, "invalid_client_metadata"],
      [{ ...metadata, client_id: id, software_statement: "x.y.z" }, "invalid_software_statement"],
      [{ ...publicMetadata({ redirect_uris: ["http://app.example.com/cb"] }), client_id: id }, "invalid_redirect_uri"],
      // A confidential client cannot become public (nor the reverse).
      [{ ...publicMetadata(), client_id: id }, "invalid_client_metadata"],
      [[{ client_id: id }], "invalid_client_metadata"],
    ];
    for (const [body, error] of cases) {
      await expectError(await manage(tokenMode.app, url, "PUT", token, body), 400, error);
    }
    const notJson = await open.app.request(url, { method: "PUT", headers: { authorization: `Bearer ${token}`, "content-type": "text/plain" }, body: "{}" }, env);
    await expectError(notJson, 400, "invalid_request");
    const { client_secret: _secret, ...unchanged } = info;
    expect(await (await manage(open.app, url, "GET", token)).json<Json>()).toEqual(unchanged);
  });

  it("a public client cannot become confidential", async () => {
    const { id, url, token } = await newRegistration();
    const refused = await expectError(await manage(tokenMode.app, url, "PUT", token, { ...serviceMetadata(), client_id: id }), 400, "invalid_client_metadata");
    expect(refused.error_description).toMatch(/cannot change between none and a client secret method/);
    expect(await findClient(db(), id)).toMatchObject({ clientType: "public", secretHash: null });
  });

  it("DELETE removes the client: its token, its secret, its refresh tokens and its access tokens stop working", async () => {
    const { id, url, token, info } = await newRegistration(
      publicMetadata({ token_endpoint_auth_method: "client_secret_basic", grant_types: ["authorization_code", "refresh_token", "client_credentials"] }),
    );
    const secret = info.client_secret as string;
    const client = { clientId: id, clientSecret: secret };
    const { browser } = await signedIn("dcrdel");
    const userTokens = await expectTokens(await exchangeCode(client, await getCode(browser, codeRequest(id))));
    const serviceToken = await expectTokens(await postToken(undefined, { grant_type: "client_credentials", scope: "read" }, { authorization: basic(id, secret) }));
    const api = (accessToken: string) => SELF.fetch(`${BASE}/api/me`, { headers: { authorization: `Bearer ${accessToken}` } });
    expect((await api(serviceToken.access_token)).status).toBe(200);
    // Cached by this isolate, which must forget it on deletion.
    await expectTokens(await postToken(open.app, { grant_type: "client_credentials" }, { authorization: basic(id, secret) }));

    const res = await manage(open.app, url, "DELETE", token);
    expect(res.status).toBe(204);
    expect(await res.text()).toBe("");
    expect(open.events).toContainEqual({ type: "client.deleted", clientId: id, source: "registration" });

    await expectError(await manage(open.app, url, "GET", token), 401, "invalid_token");
    await expectError(await manage(open.app, url, "DELETE", token), 401, "invalid_token");
    expect(await findClient(db(), id)).toBeUndefined();
    // This isolate forgot it at once (no CLIENT_CACHE_SECONDS wait).
    await expectTokenError(await postToken(open.app, { grant_type: "client_credentials" }, { authorization: basic(id, secret) }), "invalid_client");
    await expectTokenError(
      await postToken(open.app, { grant_type: "refresh_token", refresh_token: userTokens.refresh_token! }, { authorization: basic(id, secret) }),
      "invalid_client",
    );
    // The access tokens issued before are refused (the client's revocation note in KV).
    expect((await api(serviceToken.access_token)).status).toBe(401);
    expect((await api(userTokens.access_token)).status).toBe(401);
  });

  it("with DYNAMIC_REGISTRATION turned off, a registered client's token manages nothing (404)", async () => {
    const { url, token } = await newRegistration();
    await expectError(await SELF.fetch(url, { headers: { authorization: `Bearer ${token}` } }), 404, "invalid_request");
    await expectError(await SELF.fetch(url, { method: "DELETE", headers: { authorization: `Bearer ${token}` } }), 404, "invalid_request");
    expect((await manage(open.app, url, "GET", token)).status).toBe(200);
  });
});

describe("browser clients that register themselves", () => {
  it("a public client may call the token endpoint from its redirect URIs' origins; a confidential one gets no CORS", async () => {
    const spa = `https://${unique("spa-")}.example`;
    const client = await registered(open.app, publicMetadata({ redirect_uris: [`${spa}/callback`] }));
    const preflight = (origin: string) =>
      SELF.fetch(`${ISSUER}/token/`, {
        method: "OPTIONS",
        headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
      });
    expect((await preflight(spa)).headers.get("access-control-allow-origin")).toBe(spa);
    expect((await preflight(`https://${unique("other-")}.example`)).headers.get("access-control-allow-origin")).toBeNull();

    const token = await SELF.fetch(`${ISSUER}/token/`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: spa },
      body: form({ grant_type: "authorization_code", code: "not-a-code", client_id: String(client.client_id), redirect_uri: `${spa}/callback`, code_verifier: "x".repeat(43) }),
    });
    expect(token.status).toBe(400);
    expect(token.headers.get("access-control-allow-origin"), "errors are readable by the app too").toBe(spa);

    const web = `https://${unique("web-")}.example`;
    await registered(open.app, publicMetadata({ redirect_uris: [`${web}/cb`], token_endpoint_auth_method: "client_secret_basic" }));
    expect((await preflight(web)).headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("the consent page", () => {
  it("says that a client registered itself and chose its own name; an operator's client is not marked", async () => {
    const selfMade = await registered(open.app, publicMetadata({ client_name: "Totally Official Bank" }));
    const { browser } = await signedIn();
    const page = await expectConsentPage(browser, codeRequest(String(selfMade.client_id)));
    expect(page).toContain("Totally Official Bank");
    expect(page).toContain("registered itself");
    const { clientId } = await createClient({ redirectUris: [REDIRECT], grantTypes: ["authorization_code"] });
    expect(await expectConsentPage(browser, codeRequest(clientId))).not.toContain("registered itself");
  });
});
