import { env, SELF } from "cloudflare:test";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from "jose";
import { describe, expect, it } from "vitest";
import { findClient, forgetCachedClient } from "../../src/db/clients";
import { rotateClientSecret } from "../../src/db/registration";
import { createInitialAccessToken } from "../../src/db/initial-access-tokens";
import { CLIENT_ASSERTION_TYPE } from "../../src/oauth/client-assertion";
import { createProvider } from "../../src/provider";
import { clientSecretSealer } from "../../src/tokens/client-secret";
import { CONTROL_ORIGIN, type FetchRecord } from "../cimd-document-server";
import { hiddenFields } from "./support/browser";
import { signedIn, unique } from "./support/flow";
import { BASE, basic, createClient, db, form, ISSUER, postToken } from "./support/helpers";

/**
 * JWT client authentication (RFC 7523, OIDC Core §9): private_key_jwt with registered jwks or a
 * jwks_uri (served by the fake server of test/cimd-document-server.ts), and client_secret_jwt.
 */

const SECRET_KEY = (env as unknown as { SECRET_KEY: string }).SECRET_KEY;
const TOKEN_ENDPOINT = `${ISSUER}/token/`;

interface KeyPair {
  privateKey: CryptoKey;
  publicJwk: JWK;
  kid: string;
  alg: string;
}

async function newKey(alg = "ES256"): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = unique("kid-");
  return { privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" }, kid, alg };
}

async function keyClient(keys: KeyPair[], extra: Record<string, unknown> = {}) {
  return createClient({ tokenEndpointAuthMethod: "private_key_jwt", jwks: { keys: keys.map((k) => k.publicJwk) }, ...extra });
}

interface AssertionOptions {
  iss?: string;
  sub?: string;
  aud?: string | string[];
  jti?: string | null;
  exp?: number;
  iat?: number;
  kid?: string | null;
  alg?: string;
}

const now = () => Math.floor(Date.now() / 1000);

function claimsOf(clientId: string, o: AssertionOptions) {
  const claims: Record<string, unknown> = {
    iss: o.iss ?? clientId,
    sub: o.sub ?? clientId,
    aud: o.aud ?? TOKEN_ENDPOINT,
    iat: o.iat ?? now(),
    exp: o.exp ?? now() + 60,
  };
  if (o.jti !== null) claims.jti = o.jti ?? crypto.randomUUID();
  return claims;
}

async function signed(clientId: string, key: KeyPair, o: AssertionOptions = {}): Promise<string> {
  const header = { alg: o.alg ?? key.alg, ...(o.kid === null ? {} : { kid: o.kid ?? key.kid }) };
  return new SignJWT(claimsOf(clientId, o)).setProtectedHeader(header).sign(key.privateKey);
}

async function hmacSigned(clientId: string, secret: string, o: AssertionOptions = {}): Promise<string> {
  return new SignJWT(claimsOf(clientId, o)).setProtectedHeader({ alg: o.alg ?? "HS256" }).sign(new TextEncoder().encode(secret));
}

const b64url = (text: string) => btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

const withAssertion = (assertion: string, extra: Record<string, string> = {}) => ({
  grant_type: "client_credentials",
  client_assertion_type: CLIENT_ASSERTION_TYPE,
  client_assertion: assertion,
  ...extra,
});

async function expectOk(res: Response) {
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return JSON.parse(text) as Record<string, unknown>;
}

async function expectRefused(res: Response, error = "invalid_client") {
  const text = await res.text();
  expect(res.status, text).toBe(error === "invalid_client" ? 401 : 400);
  const body = JSON.parse(text) as { error: string; error_description: string };
  expect(body.error).toBe(error);
  if (error === "invalid_client") expect(res.headers.get("www-authenticate")).toMatch(/^Basic realm="/);
  return body;
}

async function serveKeys(url: string, keys: JWK[], status = 200) {
  const res = await fetch(`${CONTROL_ORIGIN}/documents?url=${encodeURIComponent(url)}`, {
    method: "PUT",
    body: JSON.stringify({ body: JSON.stringify({ keys }), status }),
  });
  expect(res.status).toBe(204);
}

const fetchesOf = async (url: string) => (await (await fetch(`${CONTROL_ORIGIN}/documents?url=${encodeURIComponent(url)}`)).json<FetchRecord>()).count;

const jwksUrl = () => `https://${unique("keys-")}.cimd.test/jwks.json`;

function post(path: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
  return SELF.fetch(`${BASE}${path}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: form(fields),
  });
}

describe("private_key_jwt with registered jwks", () => {
  for (const alg of ["ES256", "RS256", "PS256", "EdDSA", "Ed25519"]) {
    it(`a ${alg} assertion authenticates the client`, async () => {
      const key = await newKey(alg);
      const { clientId } = await keyClient([key]);
      const body = await expectOk(await postToken(withAssertion(await signed(clientId, key))));
      expect(body.access_token).toBeTypeOf("string");
    });
  }

  it("an assertion without kid is verified with the client's keys; client_id in the body may be sent if it matches", async () => {
    const key = await newKey();
    const { clientId } = await keyClient([key]);
    await expectOk(await postToken(withAssertion(await signed(clientId, key, { kid: null }), { client_id: clientId })));
    const other = await createClient();
    await expectRefused(await postToken(withAssertion(await signed(clientId, key), { client_id: other.clientId })));
  });

  it("the audience may be the issuer or the token endpoint, as a string or a list of only those", async () => {
    const key = await newKey();
    const { clientId } = await keyClient([key]);
    for (const aud of [ISSUER, TOKEN_ENDPOINT, [ISSUER, TOKEN_ENDPOINT]]) {
      await expectOk(await postToken(withAssertion(await signed(clientId, key, { aud }))));
    }
  });

  it("a wrong audience is refused: another server, another endpoint, a list with a foreign value, none", async () => {
    const key = await newKey();
    const { clientId } = await keyClient([key]);
    for (const aud of ["https://other.example.com", `${ISSUER}/userinfo/`, [ISSUER, "https://other.example.com"], []]) {
      const body = await expectRefused(await postToken(withAssertion(await signed(clientId, key, { aud }))));
      expect(body.error_description).toContain("aud");
    }
  });

  it("iss and sub must both be the client", async () => {
    const key = await newKey();
    const { clientId } = await keyClient([key]);
    const other = await keyClient([key]);
    await expectRefused(await postToken(withAssertion(await signed(clientId, key, { iss: other.clientId }))));
    // sub names which client is authenticating: the other one, whose iss check then fails.
    await expectRefused(await postToken(withAssertion(await signed(clientId, key, { sub: other.clientId }))));
  });

  it("expired, long-lived, future-dated and jti-less assertions are refused", async () => {
    const key = await newKey();
    const { clientId } = await keyClient([key]);
    const expired = await expectRefused(await postToken(withAssertion(await signed(clientId, key, { exp: now() - 120, iat: now() - 180 }))));
    expect(expired.error_description).toContain("expired");
    await expectRefused(await postToken(withAssertion(await signed(clientId, key, { exp: now() + 3600 }))));
    await expectRefused(await postToken(withAssertion(await signed(clientId, key, { iat: now() + 600, exp: now() + 60 }))));
    const noJti = await expectRefused(await postToken(withAssertion(await signed(clientId, key, { jti: null }))));
    expect(noJti.error_description).toContain("jti");
  });

  it("a jti is single use: a replay is refused, also when sent concurrently", async () => {
    const key = await newKey();
    const { clientId } = await keyClient([key]);
    const assertion = await signed(clientId, key);
    await expectOk(await postToken(withAssertion(assertion)));
    const replay = await expectRefused(await postToken(withAssertion(assertion)));
    expect(replay.error_description).toContain("used before");
    // Another assertion reusing the jti (a new signature) is a replay too.
    const jti = crypto.randomUUID();
    const fresh = [await signed(clientId, key, { jti }), await signed(clientId, key, { jti })];
    await expectOk(await postToken(withAssertion(fresh[0]!)));
    await expectRefused(await postToken(withAssertion(fresh[1]!)));

    const racing = await signed(clientId, key);
    const answers = await Promise.all(Array.from({ length: 6 }, () => postToken(withAssertion(racing))));
    expect(answers.map((res) => res.status).sort()).toEqual([200, 401, 401, 401, 401, 401]);
  });

  it("the same jti of two different clients does not collide", async () => {
    const key = await newKey();
    const a = await keyClient([key]);
    const b = await keyClient([key]);
    const jti = crypto.randomUUID();
    await expectOk(await postToken(withAssertion(await signed(a.clientId, key, { jti }))));
    await expectOk(await postToken(withAssertion(await signed(b.clientId, key, { jti }))));
  });

  it("an unknown kid and a key of another client are refused", async () => {
    const key = await newKey();
    const stranger = await newKey();
    const { clientId } = await keyClient([key]);
    await keyClient([stranger]);
    const unknownKid = await expectRefused(await postToken(withAssertion(await signed(clientId, key, { kid: "no-such-kid" }))));
    expect(unknownKid.error_description).toContain("key");
    await expectRefused(await postToken(withAssertion(await signed(clientId, stranger))));
    await expectRefused(await postToken(withAssertion(await signed(clientId, stranger, { kid: key.kid }))));
  });

  it("alg confusion: none, and HS256 keyed with the client's public key, are refused", async () => {
    const key = await newKey("RS256");
    const { clientId } = await keyClient([key]);
    const unsigned = `${b64url(JSON.stringify({ alg: "none" }))}.${b64url(JSON.stringify(claimsOf(clientId, {})))}.`;
    await expectRefused(await postToken(withAssertion(unsigned)));
    for (const secret of [JSON.stringify(key.publicJwk), key.publicJwk.n!]) {
      const body = await expectRefused(await postToken(withAssertion(await hmacSigned(clientId, secret))));
      expect(body.error_description).toContain("RS256");
    }
  });

  it("a registered token_endpoint_auth_signing_alg is the only algorithm accepted", async () => {
    const es = await newKey("ES256");
    const rs = await newKey("RS256");
    const { clientId } = await keyClient([es, rs], { metadata: { token_endpoint_auth_signing_alg: "RS256" } });
    await expectOk(await postToken(withAssertion(await signed(clientId, rs))));
    await expectRefused(await postToken(withAssertion(await signed(clientId, es))));
  });

  it("garbage, a wrong assertion type, and a missing half are refused", async () => {
    await expectRefused(await postToken(withAssertion("not-a-jwt")));
    const key = await newKey();
    const { clientId } = await keyClient([key]);
    const assertion = await signed(clientId, key);
    await expectRefused(await postToken(withAssertion(assertion, { client_assertion_type: "urn:example:other" })));
    await expectRefused(await postToken({ grant_type: "client_credentials", client_assertion: assertion }), "invalid_request");
    await expectRefused(await postToken({ grant_type: "client_credentials", client_assertion_type: CLIENT_ASSERTION_TYPE }), "invalid_request");
  });
});

describe("only the registered method", () => {
  it("a client_secret_basic client cannot use an assertion; a private_key_jwt client cannot use a secret", async () => {
    const key = await newKey();
    const basicClient = await createClient();
    const body = await expectRefused(await postToken(withAssertion(await signed(basicClient.clientId, key))));
    expect(body.error_description).toContain("client_secret_basic");
    const { clientId } = await keyClient([key]);
    await expectRefused(await postToken({ grant_type: "client_credentials" }, { authorization: basic(clientId, "anything") }));
    await expectRefused(await postToken({ grant_type: "client_credentials", client_id: clientId }));
  });

  it("an assertion with a client_secret or Basic credentials is an invalid_request (one method only)", async () => {
    const key = await newKey();
    const { clientId } = await keyClient([key]);
    const assertion = await signed(clientId, key);
    await expectRefused(await postToken(withAssertion(assertion, { client_secret: "x" })), "invalid_request");
    await expectRefused(await postToken(withAssertion(assertion), { authorization: basic(clientId, "x") }), "invalid_request");
  });

  it("a client assertion in the query string is refused", async () => {
    const res = await SELF.fetch(`${BASE}/o/token/?client_assertion=x`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: form({ grant_type: "client_credentials" }),
    });
    await expectRefused(res, "invalid_request");
  });
});

describe("private_key_jwt with a jwks_uri", () => {
  it("the set is fetched once and cached; a new kid makes it fetch again once, then refuses", async () => {
    const url = jwksUrl();
    const first = await newKey();
    await serveKeys(url, [first.publicJwk]);
    const { clientId } = await createClient({ tokenEndpointAuthMethod: "private_key_jwt", jwksUri: url });
    await expectOk(await postToken(withAssertion(await signed(clientId, first))));
    await expectOk(await postToken(withAssertion(await signed(clientId, first))));
    expect(await fetchesOf(url)).toBe(1);

    // The client rotates: its set now has a second key, which this isolate has not seen yet.
    const second = await newKey("RS256");
    await serveKeys(url, [first.publicJwk, second.publicJwk]);
    await expectOk(await postToken(withAssertion(await signed(clientId, second))));
    expect(await fetchesOf(url)).toBe(1); // counts restart at each PUT: one refetch

    // Another unknown kid at once: no second refetch within the limit, refused.
    const third = await newKey();
    await expectRefused(await postToken(withAssertion(await signed(clientId, third))));
    expect(await fetchesOf(url)).toBe(1);
  });

  it("a set with a private key, an error status, or not a JWK set refuses the client", async () => {
    const key = await newKey();
    const { privateKey } = await generateKeyPair("ES256", { extractable: true });
    for (const [keys, status] of [
      [[{ ...(await exportJWK(privateKey)), kid: key.kid }], 200],
      [[key.publicJwk], 404],
    ] as const) {
      const url = jwksUrl();
      await serveKeys(url, [...keys], status);
      const { clientId } = await createClient({ tokenEndpointAuthMethod: "private_key_jwt", jwksUri: url });
      await expectRefused(await postToken(withAssertion(await signed(clientId, key))));
    }
  });

  it("a failing jwks_uri is fetched once per window: meanwhile the client is refused without a fetch, also concurrently", async () => {
    const key = await newKey();
    const url = jwksUrl();
    await serveKeys(url, [key.publicJwk], 503);
    const { clientId } = await createClient({ tokenEndpointAuthMethod: "private_key_jwt", jwksUri: url });
    for (let i = 0; i < 3; i++) {
      const body = await expectRefused(await postToken(withAssertion(await signed(clientId, key))));
      expect(body.error_description).toContain("HTTP 503");
    }
    const racing = await Promise.all([0, 1, 2].map(async () => postToken(withAssertion(await signed(clientId, key)))));
    for (const res of racing) await expectRefused(res);
    expect(await fetchesOf(url)).toBe(1);
  });

  it("a jwks_uri on a private host is not fetched", async () => {
    const key = await newKey();
    const { clientId } = await createClient({ tokenEndpointAuthMethod: "private_key_jwt", jwksUri: "https://127.0.0.1:1/jwks.json" });
    const body = await expectRefused(await postToken(withAssertion(await signed(clientId, key))));
    expect(body.error_description).toContain("public host");
  });
});

describe("client_secret_jwt", () => {
  const secretJwtClient = () => createClient({ tokenEndpointAuthMethod: "client_secret_jwt" }, { sealSecret: clientSecretSealer(SECRET_KEY) });

  it("an HS256 assertion keyed with the secret authenticates the client; the secret is kept sealed, not in the clear", async () => {
    const { client, clientId, clientSecret } = await secretJwtClient();
    expect(clientSecret).not.toBe("");
    expect(client.secretSealed).toBeTypeOf("string");
    expect(client.secretSealed).not.toContain(clientSecret);
    await expectOk(await postToken(withAssertion(await hmacSigned(clientId, clientSecret))));
  });

  it("a wrong secret, another algorithm, a replay, and the secret sent as such are refused", async () => {
    const { clientId, clientSecret } = await secretJwtClient();
    await expectRefused(await postToken(withAssertion(await hmacSigned(clientId, "not-the-secret"))));
    await expectRefused(await postToken(withAssertion(await hmacSigned(clientId, clientSecret, { alg: "HS512" }))));
    const assertion = await hmacSigned(clientId, clientSecret);
    await expectOk(await postToken(withAssertion(assertion)));
    await expectRefused(await postToken(withAssertion(assertion)));
    await expectRefused(await postToken({ grant_type: "client_credentials" }, { authorization: basic(clientId, clientSecret) }));
  });
});

describe("client_secret_jwt and secret rotation", () => {
  it("a rotation seals the new secret (the old one stops at once); one without a sealer leaves no HMAC key (refused, fail closed)", async () => {
    const { clientId, clientSecret } = await createClient({ tokenEndpointAuthMethod: "client_secret_jwt" }, { sealSecret: clientSecretSealer(SECRET_KEY) });
    const rotated = (await rotateClientSecret(db(), clientId, 60, undefined, clientSecretSealer(SECRET_KEY)))!;
    forgetCachedClient(clientId);
    await expectOk(await postToken(withAssertion(await hmacSigned(clientId, rotated.secret))));
    await expectRefused(await postToken(withAssertion(await hmacSigned(clientId, clientSecret))));

    const unsealed = (await rotateClientSecret(db(), clientId, 0))!;
    forgetCachedClient(clientId);
    const body = await expectRefused(await postToken(withAssertion(await hmacSigned(clientId, unsealed.secret))));
    expect(body.error_description).toContain("rotate its secret");
  });

  it("a rotation on the application pages seals the new secret too: it signs assertions, the old one stops", async () => {
    const { browser, id } = await signedIn("jwt-app");
    const sealSecret = clientSecretSealer(SECRET_KEY);
    const { clientId, clientSecret } = await createClient({ tokenEndpointAuthMethod: "client_secret_jwt", source: "user", userId: id }, { sealSecret });
    const page = await browser.get(`/o/applications/${clientId}/`);
    const res = await browser.post(`/o/applications/${clientId}/rotate-secret/`, hiddenFields(await page.text()));
    const html = await res.text();
    expect(res.status, html).toBe(200);
    const fresh = /<code id="client-secret">([^<]+)<\/code>/.exec(html)?.[1];
    expect(fresh).toBeDefined();
    await expectOk(await postToken(withAssertion(await hmacSigned(clientId, fresh!))));
    await expectRefused(await postToken(withAssertion(await hmacSigned(clientId, clientSecret))));
  });
});

describe("every endpoint that authenticates clients", () => {
  const ENDPOINTS = [
    ["revocation", "/o/revoke_token/", { token: "some-token" }],
    ["introspection", "/o/introspect/", { token: "some-token" }],
  ] as const;
  for (const [name, path, fields] of ENDPOINTS) {
    it(`the ${name} endpoint accepts an assertion for its own URL, the token endpoint or the issuer`, async () => {
      const key = await newKey();
      const { clientId } = await keyClient([key]);
      for (const aud of [`${BASE}${path}`, TOKEN_ENDPOINT, ISSUER]) {
        const res = await post(path, { ...fields, client_assertion_type: CLIENT_ASSERTION_TYPE, client_assertion: await signed(clientId, key, { aud }) });
        expect(res.status, await res.text()).toBe(200);
      }
      const wrong = await post(path, { ...fields, client_assertion_type: CLIENT_ASSERTION_TYPE, client_assertion: await signed(clientId, key, { aud: `${BASE}/o/userinfo/` }) });
      await expectRefused(wrong);
    });
  }
});

describe("dynamic registration (RFC 7591) of JWT clients", () => {
  const app = createProvider({ settings: { DYNAMIC_REGISTRATION: "token" } });
  let token: Promise<string> | undefined;
  const initialToken = () => (token ??= createInitialAccessToken(db(), { note: "client assertion tests" }).then((t) => t.token));

  async function register(metadata: Record<string, unknown>): Promise<Response> {
    return app.request(
      `${ISSUER}/register/`,
      { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${await initialToken()}` }, body: JSON.stringify(metadata) },
      env,
    );
  }
  const service = (extra: Record<string, unknown>) => ({ client_name: unique("JWT "), grant_types: ["client_credentials"], response_types: [], scope: "read", ...extra });

  async function registered(metadata: Record<string, unknown>) {
    const res = await register(metadata);
    const text = await res.text();
    expect(res.status, text).toBe(201);
    return JSON.parse(text) as Record<string, unknown>;
  }

  it("private_key_jwt with jwks: no secret, the keys and the algorithm shown back, and its assertions work", async () => {
    const key = await newKey();
    const info = await registered(service({ token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [key.publicJwk] }, token_endpoint_auth_signing_alg: "ES256" }));
    expect(info.client_secret).toBeUndefined();
    expect(info).toMatchObject({ token_endpoint_auth_method: "private_key_jwt", token_endpoint_auth_signing_alg: "ES256", jwks: { keys: [key.publicJwk] } });
    await expectOk(await postToken(withAssertion(await signed(info.client_id as string, key))));
  });

  it("private_key_jwt with a jwks_uri, and require_pushed_authorization_requests, are shown back", async () => {
    const url = jwksUrl();
    const info = await registered(service({ token_endpoint_auth_method: "private_key_jwt", jwks_uri: url, require_pushed_authorization_requests: true }));
    expect(info).toMatchObject({ jwks_uri: url, require_pushed_authorization_requests: true });
    expect((await findClient(db(), info.client_id as string))!.requirePushedAuthorizationRequests).toBe(true);
  });

  it("client_secret_jwt: the secret is given once, and is the HMAC key of its assertions", async () => {
    const info = await registered(service({ token_endpoint_auth_method: "client_secret_jwt" }));
    const clientId = info.client_id as string;
    expect(info.client_secret).toBeTypeOf("string");
    await expectOk(await postToken(withAssertion(await hmacSigned(clientId, info.client_secret as string))));
  });

  /** RFC 7592 §2.2: replaces the registration of `info` with `metadata`, as its client. */
  async function replaced(info: Record<string, unknown>, metadata: Record<string, unknown>) {
    const res = await app.request(
      info.registration_client_uri as string,
      {
        method: "PUT",
        headers: { "content-type": "application/json", authorization: `Bearer ${info.registration_access_token as string}` },
        body: JSON.stringify({ ...metadata, client_id: info.client_id }),
      },
      env,
    );
    return expectOk(res);
  }

  it("PUT to client_secret_jwt issues a new, sealed secret (the old one stops); the same method keeps it; away from it the sealed copy goes", async () => {
    const basicMetadata = service({ token_endpoint_auth_method: "client_secret_basic" });
    const info = await registered(basicMetadata);
    const clientId = info.client_id as string;
    const old = info.client_secret as string;
    const jwtMetadata = { ...basicMetadata, token_endpoint_auth_method: "client_secret_jwt" };

    const switched = await replaced(info, jwtMetadata);
    const fresh = switched.client_secret as string;
    expect(fresh).toBeTypeOf("string");
    expect(fresh).not.toBe(old);
    await expectOk(await postToken(withAssertion(await hmacSigned(clientId, fresh))));
    await expectRefused(await postToken(withAssertion(await hmacSigned(clientId, old))));

    expect((await replaced(info, jwtMetadata)).client_secret).toBeUndefined();
    await expectOk(await postToken(withAssertion(await hmacSigned(clientId, fresh))));

    expect((await replaced(info, basicMetadata)).client_secret).toBeUndefined();
    expect((await findClient(db(), clientId))!.secretSealed).toBeNull();
    await expectOk(await postToken({ grant_type: "client_credentials" }, { authorization: basic(clientId, fresh) }));
  });

  it("PUT from private_key_jwt to a secret method issues a secret; back to private_key_jwt drops it", async () => {
    const key = await newKey();
    const keyMetadata = service({ token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [key.publicJwk] } });
    const info = await registered(keyMetadata);
    const clientId = info.client_id as string;
    const secret = (await replaced(info, service({ token_endpoint_auth_method: "client_secret_post" }))).client_secret as string;
    expect(secret).toBeTypeOf("string");
    await expectOk(await postToken({ grant_type: "client_credentials", client_id: clientId, client_secret: secret }));

    expect((await replaced(info, keyMetadata)).client_secret).toBeUndefined();
    expect((await findClient(db(), clientId))!).toMatchObject({ secretHash: null, secretSealed: null, previousSecretHash: null });
    await expectOk(await postToken(withAssertion(await signed(clientId, key))));
  });

  it("refuses private_key_jwt without keys or with both, private keys, an http jwks_uri, a wrong algorithm, keys for a secret method", async () => {
    const key = await newKey();
    const { privateKey } = await generateKeyPair("ES256", { extractable: true });
    const refused: Record<string, unknown>[] = [
      { token_endpoint_auth_method: "private_key_jwt" },
      { token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [key.publicJwk] }, jwks_uri: jwksUrl() },
      { token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [await exportJWK(privateKey)] } },
      { token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [{ kty: "oct", k: "c2VjcmV0" }] } },
      { token_endpoint_auth_method: "private_key_jwt", jwks: [key.publicJwk] },
      { token_endpoint_auth_method: "private_key_jwt", jwks_uri: "http://keys.example.com/jwks.json" },
      { token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [key.publicJwk] }, token_endpoint_auth_signing_alg: "HS256" },
      { token_endpoint_auth_method: "client_secret_jwt", token_endpoint_auth_signing_alg: "RS256" },
      { token_endpoint_auth_method: "client_secret_basic", jwks: { keys: [key.publicJwk] } },
      { token_endpoint_auth_method: "client_secret_basic", token_endpoint_auth_signing_alg: "RS256" },
      { token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [key.publicJwk] }, require_pushed_authorization_requests: "yes" },
    ];
    for (const extra of refused) {
      const res = await register(service(extra));
      const text = await res.text();
      expect(res.status, `${JSON.stringify(extra)}: ${text}`).toBe(400);
      expect((JSON.parse(text) as { error: string }).error).toBe("invalid_client_metadata");
    }
  });

  it("a public client (none) cannot register keys", async () => {
    const key = await newKey();
    const res = await register({ client_name: "Public", redirect_uris: ["https://app.example.com/cb"], token_endpoint_auth_method: "none", jwks: { keys: [key.publicJwk] } });
    expect(res.status).toBe(400);
  });
});
