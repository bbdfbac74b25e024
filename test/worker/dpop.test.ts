import { createExecutionContext, env, SELF } from "cloudflare:test";
import { base64url, calculateJwkThumbprint, decodeJwt, exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { protectedResourceMetadata } from "../../src/middleware/protected-resource";
import { requireToken } from "../../src/middleware/require-token";
import worker from "../../src/index";
import { createProvider } from "../../src/provider";
import { issueAccessToken } from "../../src/tokens/access-token";
import { loadKeyRing } from "../../src/tokens/keys";
import { decideDeviceAuthorization } from "../../src/db/device-authorizations";
import { basic, BASE, createClient, db, ISSUER, postToken, storageOps } from "./support/helpers";
import { authorizeUrl, codeRequest, expectTokenError, expectTokens, getCode, newUser, PASSWORD, REDIRECT, signedIn, VERIFIER } from "./support/flow";

/** DPoP (RFC 9449): proofs at the token endpoint, /api/me (requireToken), UserInfo; introspection's cnf. */

const TOKEN_URL = `${BASE}/o/token/`;
const API_URL = `${BASE}/api/me`;
const USERINFO_URL = `${ISSUER}/userinfo/`;

interface ProofKey {
  alg: string;
  privateKey: CryptoKey;
  jwk: JWK;
  jkt: string;
}

async function newKey(alg = "ES256"): Promise<ProofKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(publicKey);
  return { alg, privateKey, jwk, jkt: await calculateJwkThumbprint(jwk) };
}

const now = () => Math.floor(Date.now() / 1000);
const sha256 = async (value: string) => base64url.encode(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(value))));

interface ProofOptions {
  htm?: string;
  iat?: number;
  jti?: string;
  /** The access token whose hash goes into `ath`. */
  token?: string;
  nonce?: string;
  typ?: string | null;
  jwk?: JWK;
}

/** A DPoP proof JWT signed with `key`. */
async function proof(key: ProofKey, htu: string, o: ProofOptions = {}): Promise<string> {
  const payload: Record<string, unknown> = { htm: o.htm ?? (htu === API_URL ? "GET" : "POST"), htu, iat: o.iat ?? now(), jti: o.jti ?? crypto.randomUUID() };
  if (o.token) payload.ath = await sha256(o.token);
  if (o.nonce) payload.nonce = o.nonce;
  const header: Record<string, unknown> = { alg: key.alg, jwk: o.jwk ?? key.jwk };
  if (o.typ !== null) header.typ = o.typ ?? "dpop+jwt";
  return new SignJWT(payload).setProtectedHeader(header as { alg: string }).sign(key.privateKey);
}

/** An unsigned or HMAC-signed proof, built by hand. */
async function handMadeProof(alg: "none" | "HS256", key: ProofKey): Promise<string> {
  const enc = (v: object) => base64url.encode(JSON.stringify(v));
  const input = `${enc({ typ: "dpop+jwt", alg, jwk: key.jwk })}.${enc({ htm: "POST", htu: TOKEN_URL, iat: now(), jti: crypto.randomUUID() })}`;
  if (alg === "none") return `${input}.`;
  const hmac = await crypto.subtle.importKey("raw", new TextEncoder().encode("a shared secret of some length!!"), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return `${input}.${base64url.encode(new Uint8Array(await crypto.subtle.sign("HMAC", hmac, new TextEncoder().encode(input))))}`;
}

async function machineClient(overrides: Parameters<typeof createClient>[0] = {}) {
  return createClient({ grantTypes: ["client_credentials"], scope: "read write", ...overrides });
}

const clientCredentials = (c: { clientId: string; clientSecret: string }, headers: Record<string, string> = {}) =>
  postToken({ grant_type: "client_credentials", scope: "read" }, { authorization: basic(c.clientId, c.clientSecret), ...headers });

async function boundToken(key: ProofKey) {
  const client = await machineClient();
  const tokens = await expectTokens(await clientCredentials(client, { dpop: await proof(key, TOKEN_URL) }));
  return { client, token: tokens.access_token };
}

const api = (token: string, headers: Record<string, string> = {}, url = API_URL) =>
  SELF.fetch(url, { headers: { authorization: `DPoP ${token}`, ...headers } });

async function expectChallenge(res: Response, status: number, error: string) {
  expect(res.status).toBe(status);
  const challenge = res.headers.get("www-authenticate") ?? "";
  expect(challenge).toMatch(/^DPoP /);
  expect(challenge).toContain(`error="${error}"`);
  expect(challenge).toContain('algs="ES256 ES384 RS256 PS256 Ed25519 EdDSA"');
  expect(((await res.json()) as { error: string }).error).toBe(error);
}

describe("DPoP at the token endpoint", () => {
  it("client_credentials with a proof: token_type DPoP and cnf.jkt in the access token", async () => {
    const key = await newKey();
    const client = await machineClient();
    const res = await clientCredentials(client, { dpop: await proof(key, TOKEN_URL) });
    const tokens = await expectTokens(res);
    expect(tokens.token_type).toBe("DPoP");
    expect(decodeJwt(tokens.access_token).cnf).toEqual({ jkt: key.jkt });
    // Without a proof: a Bearer token, no cnf.
    const plain = await expectTokens(await clientCredentials(client));
    expect(plain.token_type).toBe("Bearer");
    expect(decodeJwt(plain.access_token).cnf).toBeUndefined();
  });

  it("accepts RS256, PS256, ES384 and Ed25519 proofs; htu compared without query and fragment", async () => {
    const client = await machineClient();
    for (const alg of ["RS256", "PS256", "ES384", "Ed25519"]) {
      const key = await newKey(alg);
      const tokens = await expectTokens(await clientCredentials(client, { dpop: await proof(key, TOKEN_URL) }));
      expect(decodeJwt(tokens.access_token).cnf).toEqual({ jkt: key.jkt });
    }
    const key = await newKey();
    await expectTokens(await clientCredentials(client, { dpop: await proof(key, `${TOKEN_URL}?x=1#frag`) }));
    await expectTokens(await clientCredentials(client, { dpop: await proof(key, "HTTPS://AUTH.EXAMPLE.COM:443/o/token/") }));
  });

  it("refuses every broken proof with invalid_dpop_proof", async () => {
    const client = await machineClient();
    const key = await newKey();
    const other = await newKey();
    const { privateKey, ...withPrivate } = await (async () => {
      const pair = await generateKeyPair("ES256", { extractable: true });
      return { privateKey: pair.privateKey, jwk: await exportJWK(pair.privateKey) };
    })();
    const cases: [string, string | Promise<string>][] = [
      ["no typ", proof(key, TOKEN_URL, { typ: null })],
      ["wrong typ", proof(key, TOKEN_URL, { typ: "JWT" })],
      ["alg none", handMadeProof("none", key)],
      ["alg HS256", handMadeProof("HS256", key)],
      ["a private key in jwk", proof({ alg: "ES256", privateKey, jwk: withPrivate.jwk, jkt: "" }, TOKEN_URL)],
      ["bad signature (another key's jwk)", proof(key, TOKEN_URL, { jwk: other.jwk })],
      ["wrong htm", proof(key, TOKEN_URL, { htm: "GET" })],
      ["wrong htu (another path)", proof(key, `${BASE}/o/revoke_token/`)],
      ["wrong htu (another host)", proof(key, "https://evil.example/o/token/")],
      ["stale iat", proof(key, TOKEN_URL, { iat: now() - 120 })],
      ["future iat", proof(key, TOKEN_URL, { iat: now() + 120 })],
      ["ath at the token endpoint", proof(key, TOKEN_URL, { token: "some-token" })],
      ["not a JWS", "not-a-jws"],
      ["a broken jwk", proof(key, TOKEN_URL, { jwk: { kty: "EC", crv: "P-256", x: "AA" } })],
      ["an RSA jwk for ES256", newKey("RS256").then((rsa) => proof(key, TOKEN_URL, { jwk: rsa.jwk }))],
      ["two DPoP headers", Promise.all([proof(key, TOKEN_URL), proof(key, TOKEN_URL)]).then((p) => p.join(", "))],
    ];
    for (const [name, value] of cases) {
      const res = await clientCredentials(client, { dpop: await value });
      const body = await expectTokenError(res, "invalid_dpop_proof");
      expect(body.error_description, name).toBeTruthy();
    }
  });

  it("a replayed jti is refused, also when two requests race (spent at the primary)", async () => {
    const client = await machineClient();
    const key = await newKey();
    const value = await proof(key, TOKEN_URL);
    await expectTokens(await clientCredentials(client, { dpop: value }));
    await expectTokenError(await clientCredentials(client, { dpop: value }), "invalid_dpop_proof");
    const racing = await proof(key, TOKEN_URL);
    const results = await Promise.all([clientCredentials(client, { dpop: racing }), clientCredentials(client, { dpop: racing })]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 400]);
  });

  it("a client registered with dpop_bound_access_tokens gets nothing without a proof", async () => {
    const client = await machineClient({ dpopBoundAccessTokens: true });
    await expectTokenError(await clientCredentials(client), "invalid_dpop_proof");
    const tokens = await expectTokens(await clientCredentials(client, { dpop: await proof(await newKey(), TOKEN_URL) }));
    expect(tokens.token_type).toBe("DPoP");
  });

  it("DPOP_NONCE: use_dpop_nonce with a DPoP-Nonce header, then the proof with that nonce succeeds", async () => {
    const app = createProvider({ settings: { DPOP_NONCE: true } });
    const client = await machineClient();
    const key = await newKey();
    const send = async (nonce?: string) =>
      app.request(
        TOKEN_URL,
        {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(client.clientId, client.clientSecret), dpop: await proof(key, TOKEN_URL, { nonce }) },
          body: "grant_type=client_credentials",
        },
        env,
      );
    const first = await send();
    const nonce = first.headers.get("dpop-nonce");
    await expectTokenError(first, "use_dpop_nonce");
    expect(nonce).toMatch(/^\d+\.[A-Za-z0-9_-]{43}$/);
    await expectTokenError(await send("123.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), "use_dpop_nonce");
    const ok = await send(nonce!);
    expect((await expectTokens(ok)).token_type).toBe("DPoP");
    expect(ok.headers.get("dpop-nonce")).toBe(nonce);
  });

  it("storage round-trips: a DPoP client_credentials request on a warm isolate is 1 D1 (the jti spent at the primary), 0 KV", async () => {
    const client = await machineClient();
    const key = await newKey();
    await clientCredentials(client, { dpop: await proof(key, TOKEN_URL) });
    const warm = await clientCredentials(client, { dpop: await proof(key, TOKEN_URL) });
    expect(warm.status).toBe(200);
    expect(storageOps(warm)).toEqual({ d1: 1, d1_statements: 1, kv: 0 });
  });
});

describe("DPoP at a protected API (requireToken, /api/me)", () => {
  it("accepts the DPoP scheme with a proof of the bound key (ath, htm, htu); 0 D1 and 1 KV", async () => {
    const key = await newKey();
    const { token } = await boundToken(key);
    const res = await api(token, { dpop: await proof(key, API_URL, { token }) });
    expect(res.status).toBe(200);
    expect(storageOps(res)).toEqual({ d1: 0, d1_statements: 0, kv: 1 });
    // The query is not part of htu.
    const withQuery = await api(token, { dpop: await proof(key, API_URL, { token }) }, `${API_URL}?page=2`);
    expect(withQuery.status).toBe(200);
  });

  it("refuses a Bearer presentation of a DPoP-bound token (downgrade)", async () => {
    const key = await newKey();
    const { token } = await boundToken(key);
    const res = await SELF.fetch(API_URL, { headers: { authorization: `Bearer ${token}`, dpop: await proof(key, API_URL, { token }) } });
    await expectChallenge(res, 401, "invalid_token");
  });

  it("refuses the DPoP scheme with an unbound token", async () => {
    const client = await machineClient();
    const { access_token } = await expectTokens(await clientCredentials(client));
    await expectChallenge(await api(access_token, { dpop: await proof(await newKey(), API_URL, { token: access_token }) }), 401, "invalid_token");
  });

  it("refuses missing, mismatched and replayed proofs", async () => {
    const key = await newKey();
    const { token } = await boundToken(key);
    const other = await newKey();
    const cases: [string, Record<string, string>][] = [
      ["no proof", {}],
      ["ath of another token", { dpop: await proof(key, API_URL, { token: `${token}x` }) }],
      ["no ath", { dpop: await proof(key, API_URL) }],
      ["another key than cnf.jkt", { dpop: await proof(other, API_URL, { token }) }],
      ["wrong htm", { dpop: await proof(key, API_URL, { token, htm: "POST" }) }],
      ["wrong htu", { dpop: await proof(key, `${BASE}/api/other`, { token }) }],
      ["stale iat", { dpop: await proof(key, API_URL, { token, iat: now() - 300 }) }],
    ];
    for (const [name, headers] of cases) {
      const res = await api(token, headers);
      expect(res.status, name).toBe(401);
      await expectChallenge(res, 401, "invalid_dpop_proof");
    }
    const once = await proof(key, API_URL, { token });
    expect((await api(token, { dpop: once })).status).toBe(200);
    await expectChallenge(await api(token, { dpop: once }), 401, "invalid_dpop_proof");
  });
});

describe("DPoP options of requireToken, and introspection callers", () => {
  it("requireToken({ dpop: \"required\" }) refuses Bearer tokens; protectedResourceMetadata says so", async () => {
    const app = new Hono();
    app.get("/strict", requireToken({ dpop: "required" }), (c) => c.json({ ok: true }));
    app.get("/.well-known/oauth-protected-resource/strict", protectedResourceMetadata({ resource: `${BASE}/strict`, dpopBoundAccessTokensRequired: true }));
    const client = await machineClient();
    const { access_token: plain } = await expectTokens(await clientCredentials(client));
    await expectChallenge(await app.request(`${BASE}/strict`, { headers: { authorization: `Bearer ${plain}` } }, env), 401, "invalid_token");
    const key = await newKey();
    const { token } = await boundToken(key);
    const url = `${BASE}/strict`;
    const ok = await app.request(url, { headers: { authorization: `DPoP ${token}`, dpop: await proof(key, url, { token, htm: "GET" }) } }, env);
    expect(ok.status).toBe(200);
    const metadata = (await (await app.request(`${BASE}/.well-known/oauth-protected-resource/strict`, {}, env)).json()) as Record<string, unknown>;
    expect(metadata).toMatchObject({ dpop_bound_access_tokens_required: true, dpop_signing_alg_values_supported: expect.arrayContaining(["ES256"]) });
  });

  it("requireToken({ dpopNonce: true }) and UserInfo under DPOP_NONCE: use_dpop_nonce (401, DPoP-Nonce), then the nonce works", async () => {
    const key = await newKey();
    const { token } = await boundToken(key);
    const app = new Hono();
    app.get("/nonced", requireToken({ dpopNonce: true }), (c) => c.json({ ok: true }));
    const url = `${BASE}/nonced`;
    const call = async (nonce?: string) =>
      app.request(url, { headers: { authorization: `DPoP ${token}`, dpop: await proof(key, url, { token, htm: "GET", nonce }) } }, env);
    const first = await call();
    const nonce = first.headers.get("dpop-nonce");
    await expectChallenge(first, 401, "use_dpop_nonce");
    expect(nonce).toMatch(/^\d+\.[A-Za-z0-9_-]{43}$/);
    expect((await call(nonce!)).status).toBe(200);

    // UserInfo of a provider with DPOP_NONCE: the same stateless nonces.
    const provider = createProvider({ settings: { DPOP_NONCE: true } });
    const { clientId } = await createClient({ clientType: "public", grantTypes: ["authorization_code"], redirectUris: [REDIRECT], scope: "openid read" });
    const { browser } = await signedIn();
    const code = await getCode(browser, codeRequest(clientId, { scope: "openid read" }));
    const tokenRequest = async (n?: string) =>
      provider.request(
        TOKEN_URL,
        {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded", dpop: await proof(key, TOKEN_URL, { nonce: n }) },
          body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: VERIFIER, client_id: clientId }).toString(),
        },
        env,
      );
    const userToken = (await expectTokens(await tokenRequest(nonce!))).access_token;
    const userinfo = async (n?: string) =>
      provider.request(USERINFO_URL, { headers: { authorization: `DPoP ${userToken}`, dpop: await proof(key, USERINFO_URL, { token: userToken, htm: "GET", nonce: n }) } }, env);
    const refused = await userinfo();
    expect(refused.headers.get("dpop-nonce")).toBe(nonce);
    await expectChallenge(refused, 401, "use_dpop_nonce");
    expect((await userinfo(nonce!)).status).toBe(200);
  });

  it("the ready Worker's /api/me follows DPOP_NONCE and DPOP_PROOF_WINDOW_SECONDS, as UserInfo and the token endpoint do", async () => {
    const key = await newKey();
    const { token } = await boundToken(key);
    const call = async (vars: Record<string, string>, o: ProofOptions = {}) =>
      worker.fetch(
        new Request(API_URL, { headers: { authorization: `DPoP ${token}`, dpop: await proof(key, API_URL, { token, ...o }) } }),
        { ...env, ...vars },
        createExecutionContext(),
      );
    const first = await call({ DPOP_NONCE: "true" });
    const nonce = first.headers.get("dpop-nonce");
    await expectChallenge(first, 401, "use_dpop_nonce");
    expect(nonce).toMatch(/^\d+\.[A-Za-z0-9_-]{43}$/);
    expect((await call({ DPOP_NONCE: "true" }, { nonce: nonce! })).status).toBe(200);

    // A proof made 90 s ago: outside the default 60 s window, inside a 120 s one.
    await expectChallenge(await call({}, { iat: now() - 90 }), 401, "invalid_dpop_proof");
    expect((await call({ DPOP_PROOF_WINDOW_SECONDS: "120" }, { iat: now() - 90 })).status).toBe(200);
  });

  it("requireToken() on a route of the provider follows its DPOP_NONCE by default", async () => {
    const key = await newKey();
    const { token } = await boundToken(key);
    const provider = createProvider({ settings: { DPOP_NONCE: true } });
    provider.get("/inside", requireToken(), (c) => c.json({ ok: true }));
    const url = `${BASE}/inside`;
    const call = async (nonce?: string) =>
      provider.request(url, { headers: { authorization: `DPoP ${token}`, dpop: await proof(key, url, { token, htm: "GET", nonce }) } }, env);
    const first = await call();
    await expectChallenge(first, 401, "use_dpop_nonce");
    expect((await call(first.headers.get("dpop-nonce")!)).status).toBe(200);
  });

  it("introspection refuses a caller's DPoP-bound token sent as Bearer", async () => {
    const key = await newKey();
    const { client } = await boundToken(key);
    // A resource server's own token with the introspection scope, bound to its DPoP key.
    const { token: callerToken } = await issueAccessToken(await loadKeyRing(env.SIGNING_KEYS), "ES256", {
      issuer: ISSUER,
      subject: client.clientId,
      audience: BASE,
      clientId: client.clientId,
      scope: ["introspection"],
      lifetimeSeconds: 300,
      claims: { cnf: { jkt: key.jkt } },
    });
    const { access_token: token } = await expectTokens(await clientCredentials(client));
    const res = await SELF.fetch(`${ISSUER}/introspect/`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: `Bearer ${callerToken}` },
      body: new URLSearchParams({ token }).toString(),
    });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: string }).error).toBe("invalid_token");
  });
});

describe("DPoP for a public client's code flow, refresh, UserInfo and introspection", () => {
  async function publicClient() {
    return createClient({ clientType: "public", grantTypes: ["authorization_code", "refresh_token"], redirectUris: [REDIRECT], scope: "openid read" });
  }

  async function codeTokens(clientId: string, key: ProofKey) {
    const { browser } = await signedIn();
    const code = await getCode(browser, codeRequest(clientId, { scope: "openid read" }));
    const res = await postToken(
      { grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: VERIFIER, client_id: clientId },
      { dpop: await proof(key, TOKEN_URL) },
    );
    return expectTokens(res);
  }

  const refresh = async (clientId: string, refreshToken: string, key?: ProofKey) =>
    postToken({ grant_type: "refresh_token", refresh_token: refreshToken, client_id: clientId }, key ? { dpop: await proof(key, TOKEN_URL) } : {});

  it("binds the access and refresh tokens; a refresh needs the same key, and the rotated token stays bound", async () => {
    const { clientId } = await publicClient();
    const key = await newKey();
    const tokens = await codeTokens(clientId, key);
    expect(tokens.token_type).toBe("DPoP");
    expect(decodeJwt(tokens.access_token).cnf).toEqual({ jkt: key.jkt });

    const other = await newKey();
    await expectTokenError(await refresh(clientId, tokens.refresh_token!, other), "invalid_grant");
    await expectTokenError(await refresh(clientId, tokens.refresh_token!), "invalid_grant");
    const refreshed = await expectTokens(await refresh(clientId, tokens.refresh_token!, key));
    expect(refreshed.token_type).toBe("DPoP");
    expect(decodeJwt(refreshed.access_token).cnf).toEqual({ jkt: key.jkt });
    // The key mismatch did not spend the token; the successor is bound to the same key.
    await expectTokenError(await refresh(clientId, refreshed.refresh_token!, other), "invalid_grant");
    expect((await expectTokens(await refresh(clientId, refreshed.refresh_token!, key))).token_type).toBe("DPoP");
  });

  it("dpop_jkt (RFC 9449 §10) binds the code: another key or no proof is invalid_grant and spends nothing; the key's proof redeems it", async () => {
    const { clientId } = await publicClient();
    const key = await newKey();
    const { browser } = await signedIn();
    const code = await getCode(browser, codeRequest(clientId, { scope: "openid read", dpop_jkt: key.jkt }));
    const exchange = async (proofKey?: ProofKey) =>
      postToken(
        { grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: VERIFIER, client_id: clientId },
        proofKey ? { dpop: await proof(proofKey, TOKEN_URL) } : {},
      );
    await expectTokenError(await exchange(await newKey()), "invalid_grant");
    await expectTokenError(await exchange(), "invalid_grant");
    const tokens = await expectTokens(await exchange(key));
    expect(decodeJwt(tokens.access_token).cnf).toEqual({ jkt: key.jkt });
  });

  it("a DPoP proof at the PAR endpoint binds the code as dpop_jkt does (RFC 9449 §10.1); a dpop_jkt of another key is refused", async () => {
    const { clientId } = await publicClient();
    const key = await newKey();
    const PAR_URL = `${BASE}/o/par/`;
    const fields = { ...codeRequest(clientId, { scope: "openid read" }) } as Record<string, string>;
    const push = async (extra: Record<string, string>, proofKey: ProofKey) =>
      SELF.fetch(PAR_URL, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", dpop: await proof(proofKey, PAR_URL) },
        body: new URLSearchParams({ ...fields, ...extra }).toString(),
      });
    const refused = await push({ dpop_jkt: (await newKey()).jkt }, key);
    await expectTokenError(refused, "invalid_dpop_proof");
    const res = await push({}, key);
    expect(res.status).toBe(201);
    const { request_uri } = (await res.json()) as { request_uri: string };
    const { browser } = await signedIn();
    const code = await getCode(browser, { client_id: clientId, request_uri });
    const exchange = async (proofKey: ProofKey) =>
      postToken(
        { grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: VERIFIER, client_id: clientId },
        { dpop: await proof(proofKey, TOKEN_URL) },
      );
    await expectTokenError(await exchange(await newKey()), "invalid_grant");
    expect(decodeJwt((await expectTokens(await exchange(key))).access_token).cnf).toEqual({ jkt: key.jkt });
  });

  it("a dpop_jkt that is no thumbprint is invalid_request at the authorization endpoint", async () => {
    const { clientId } = await publicClient();
    const { browser } = await signedIn();
    const res = await browser.get(authorizeUrl(codeRequest(clientId, { scope: "openid read", dpop_jkt: "not-a-thumbprint" })));
    expect(res.status).toBe(303);
    expect(new URL(res.headers.get("location")!, BASE).searchParams.get("error")).toBe("invalid_request");
  });

  it("UserInfo: DPoP scheme with a proof for its URL; Bearer refused; a wrong key refused", async () => {
    const { clientId } = await publicClient();
    const key = await newKey();
    const { access_token: token } = await codeTokens(clientId, key);
    const ok = await SELF.fetch(USERINFO_URL, { headers: { authorization: `DPoP ${token}`, dpop: await proof(key, USERINFO_URL, { token, htm: "GET" }) } });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { sub: string }).sub).toBeTruthy();
    const bearer = await SELF.fetch(USERINFO_URL, { headers: { authorization: `Bearer ${token}` } });
    await expectChallenge(bearer, 401, "invalid_token");
    const wrongKey = await SELF.fetch(USERINFO_URL, { headers: { authorization: `DPoP ${token}`, dpop: await proof(await newKey(), USERINFO_URL, { token, htm: "GET" }) } });
    await expectChallenge(wrongKey, 401, "invalid_dpop_proof");
    const wrongUrl = await SELF.fetch(USERINFO_URL, { headers: { authorization: `DPoP ${token}`, dpop: await proof(key, API_URL, { token, htm: "GET" }) } });
    await expectChallenge(wrongUrl, 401, "invalid_dpop_proof");
  });

  it("introspection returns cnf and token_type DPoP for a bound token, without a proof (the resource server checks it)", async () => {
    const key = await newKey();
    const { client, token } = await boundToken(key);
    const res = await SELF.fetch(`${ISSUER}/introspect/`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(client.clientId, client.clientSecret) },
      body: new URLSearchParams({ token }).toString(),
    });
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ active: true, token_type: "DPoP", cnf: { jkt: key.jkt } });
  });
});

describe("DPoP with the password, device and token exchange grants", () => {
  const DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";
  const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
  const ORDERS = `${BASE}/orders`;

  /** Expects a DPoP-bound answer for `key`: token_type DPoP and cnf.jkt in the access token. */
  async function expectBound(res: Response, key: ProofKey) {
    const tokens = await expectTokens(res);
    expect(tokens.token_type).toBe("DPoP");
    expect(decodeJwt(tokens.access_token).cnf).toEqual({ jkt: key.jkt });
    return tokens;
  }

  /** Sends `fields` as `client`, with a fresh proof of `key` when one is given. */
  async function sendAs(client: { clientId: string; clientSecret: string }, fields: Record<string, string>, key?: ProofKey) {
    const dpop: Record<string, string> = key ? { dpop: await proof(key, TOKEN_URL) } : {};
    if (client.clientSecret) return postToken(fields, { authorization: basic(client.clientId, client.clientSecret), ...dpop });
    return postToken({ ...fields, client_id: client.clientId }, dpop);
  }

  /** A device code of `clientId` that `userId` approved (the verification page's decision, written as it writes it). */
  async function approvedDeviceCode(clientId: string, userId: string): Promise<string> {
    const res = await SELF.fetch(`${ISSUER}/device_authorization/`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ client_id: clientId, scope: "read" }).toString(),
    });
    expect(res.status).toBe(200);
    const codes = (await res.json()) as { device_code: string; user_code: string };
    expect(await decideDeviceAuthorization(db(), codes.user_code.replace("-", ""), { status: "approved", userId, authTime: now() }, now())).toBeDefined();
    return codes.device_code;
  }

  for (const bound of [false, true]) {
    const whom = bound ? "a client registered with dpop_bound_access_tokens" : "a client";
    it(`password grant: ${whom} gets DPoP-bound tokens with a proof${bound ? ", and nothing without one" : ""}`, async () => {
      const key = await newKey();
      const client = await createClient({ grantTypes: ["password", "refresh_token"], dpopBoundAccessTokens: bound });
      const { username } = await newUser("dpop");
      const fields = { grant_type: "password", username, password: PASSWORD, scope: "read" };
      if (bound) await expectTokenError(await sendAs(client, fields), "invalid_dpop_proof");
      await expectBound(await sendAs(client, fields, key), key);
    });

    it(`device grant: ${whom} gets DPoP-bound tokens with a proof${bound ? ", and nothing without one (the code stays usable)" : ""}`, async () => {
      const key = await newKey();
      const client = await createClient({ clientType: "public", grantTypes: [DEVICE_GRANT, "refresh_token"], dpopBoundAccessTokens: bound });
      const { id } = await newUser("dpop");
      const fields = { grant_type: DEVICE_GRANT, device_code: await approvedDeviceCode(client.clientId, id) };
      if (bound) await expectTokenError(await sendAs(client, fields), "invalid_dpop_proof");
      const tokens = await expectBound(await sendAs(client, fields, key), key);
      // A public client's refresh token is bound to the key too: refreshing needs its proof.
      await expectTokenError(await sendAs(client, { grant_type: "refresh_token", refresh_token: tokens.refresh_token! }), bound ? "invalid_dpop_proof" : "invalid_grant");
      await expectBound(await sendAs(client, { grant_type: "refresh_token", refresh_token: tokens.refresh_token! }, key), key);
    });

    it(`token exchange: ${whom} gets a DPoP-bound token with a proof${bound ? ", and nothing without one" : ""}`, async () => {
      const key = await newKey();
      const { id } = await newUser("dpop");
      const front = await createClient({ grantTypes: ["authorization_code"], redirectUris: [REDIRECT] });
      const server = await createClient({ grantTypes: [TOKEN_EXCHANGE], resources: [ORDERS, `${BASE}/api`], scope: "read", dpopBoundAccessTokens: bound });
      const subject = await issueAccessToken(await loadKeyRing(env.SIGNING_KEYS), "ES256", {
        issuer: ISSUER,
        subject: id,
        audience: ORDERS,
        clientId: front.clientId,
        scope: ["read"],
        lifetimeSeconds: 600,
        claims: { gid: crypto.randomUUID() },
      });
      const fields = { grant_type: TOKEN_EXCHANGE, subject_token: subject.token, subject_token_type: "urn:ietf:params:oauth:token-type:access_token", resource: `${BASE}/api` };
      if (bound) await expectTokenError(await sendAs(server, fields), "invalid_dpop_proof");
      const tokens = await expectBound(await sendAs(server, fields, key), key);
      expect((await api(tokens.access_token, { dpop: await proof(key, API_URL, { token: tokens.access_token }) })).status).toBe(200);
    });
  }
});

describe("DPoP metadata and registration", () => {
  it("dynamic registration takes dpop_bound_access_tokens, shows it back, and the client's token requests need a proof", async () => {
    const app = createProvider({ settings: { DYNAMIC_REGISTRATION: "open" } });
    const register = (metadata: object) =>
      app.request(`${ISSUER}/register/`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(metadata) }, env);
    const metadata = { redirect_uris: [REDIRECT], token_endpoint_auth_method: "none", client_name: "DPoP SPA" };
    const bad = await register({ ...metadata, dpop_bound_access_tokens: "yes" });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toBe("invalid_client_metadata");
    const res = await register({ ...metadata, dpop_bound_access_tokens: true });
    expect(res.status).toBe(201);
    const client = (await res.json()) as { client_id: string; dpop_bound_access_tokens?: boolean };
    expect(client.dpop_bound_access_tokens).toBe(true);
    // The proof is checked before the grant: no proof, no look at the code.
    const exchange = await postToken({ grant_type: "authorization_code", code: "any", redirect_uri: REDIRECT, code_verifier: VERIFIER, client_id: client.client_id });
    await expectTokenError(exchange, "invalid_dpop_proof");
  });

  it("discovery advertises dpop_signing_alg_values_supported", async () => {
    const metadata = (await (await SELF.fetch(`${BASE}/.well-known/oauth-authorization-server/o`)).json()) as Record<string, unknown>;
    expect(metadata.dpop_signing_alg_values_supported).toEqual(["ES256", "ES384", "RS256", "PS256", "Ed25519", "EdDSA"]);
  });
});
