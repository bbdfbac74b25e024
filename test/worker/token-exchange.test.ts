import { env, SELF } from "cloudflare:test";
import { decodeJwt, exportJWK, generateKeyPair, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import type { ProviderEvent } from "../../src/core/events";
import { parseSettings } from "../../src/core/settings";
import { registrationFromMetadata } from "../../src/oauth/client-metadata";
import { createProvider } from "../../src/provider";
import type { Client } from "../../src/db/schema";
import { issueAccessToken } from "../../src/tokens/access-token";
import { loadKeyRing } from "../../src/tokens/keys";
import { deleteClientAndTokens, revokeUserAccessTokens, revokeUserClientAccessTokens } from "../../src/tokens/revocation";
import { newGrantId, newRefreshToken, userAccessToken } from "../../src/tokens/user-tokens";
import { insertRefreshToken } from "../../src/db/refresh-tokens";
import { setUserActive } from "../../src/db/users";
import { basic, BASE, createClient, db, form, ISSUER, storageOps } from "./support/helpers";
import { expectTokenError, expectTokens, newUser, REDIRECT, tokenRequest, type ClientCredentials } from "./support/flow";

/**
 * Token Exchange (RFC 8693): a resource server (the "orders" API, a confidential client registered
 * with the grant and the resources it serves) trades a user's access token it received from a
 * front-end client for a narrower token for a downstream API (the ready Worker's `/api`).
 */

const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";
const ORDERS = `${BASE}/orders`;
const BILLING = `${BASE}/billing`;
const DOWNSTREAM = `${BASE}/api`;

const settings = () => parseSettings(env as unknown as Record<string, unknown>);
const ctx = () => ({ settings: settings(), issuer: ISSUER, audience: BASE });

/** The client the user signed in to: its tokens go to the orders API. */
const frontClient = (overrides: Parameters<typeof createClient>[0] = {}) =>
  createClient({ grantTypes: ["authorization_code", "refresh_token"], redirectUris: [REDIRECT], ...overrides });

/** The orders API: a resource server allowed to exchange the tokens it receives. */
const ordersServer = (overrides: Parameters<typeof createClient>[0] = {}) =>
  createClient({ name: "Orders API", grantTypes: [TOKEN_EXCHANGE], resources: [ORDERS, DOWNSTREAM], scope: "read write", ...overrides });

/** A user's access token from `client` for `resources`, as the token endpoint would issue it; its refresh token row too. */
async function userToken(client: Client, userId: string, options: { scope?: string[]; resources?: string[] } = {}) {
  const grant = { grantId: newGrantId(), userId, scope: options.scope ?? ["read", "write"], resources: options.resources ?? [ORDERS] };
  const access = await userAccessToken(await loadKeyRing(env.SIGNING_KEYS), ctx(), client, grant);
  const refresh = await newRefreshToken(settings(), client, grant);
  await insertRefreshToken(db(), refresh.row).run();
  return { token: access.token, grantId: grant.grantId, refreshToken: refresh.token };
}

const exchange = (client: ClientCredentials, subjectToken: string, extra: Record<string, string | undefined> = {}) =>
  tokenRequest(client, { grant_type: TOKEN_EXCHANGE, subject_token: subjectToken, subject_token_type: ACCESS_TOKEN_TYPE, ...extra });

async function introspect(caller: ClientCredentials, token: string) {
  const res = await SELF.fetch(`${ISSUER}/introspect/`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(caller.clientId, caller.clientSecret) },
    body: form({ token }),
  });
  expect(res.status).toBe(200);
  return res.json<Record<string, unknown>>();
}

/** A user, the front client's token for the orders API, and the orders API's credentials. */
async function setting(options: { front?: Parameters<typeof createClient>[0]; server?: Parameters<typeof createClient>[0]; scope?: string[]; resources?: string[] } = {}) {
  const user = await newUser("tx");
  const front = await frontClient(options.front);
  const server = await ordersServer(options.server);
  const subject = await userToken(front.client, user.id, { scope: options.scope, resources: options.resources });
  return { user, front, server, subject };
}

describe("token exchange: success", () => {
  it("trades the user's token for a narrower one for the downstream API, which accepts it", async () => {
    const { user, front, server, subject } = await setting();
    const res = await exchange(server, subject.token, { scope: "read", resource: DOWNSTREAM });
    expect(res.headers.get("cache-control")).toBe("no-store");
    const body = (await expectTokens(res)) as unknown as Record<string, unknown>;
    expect(body).toMatchObject({ issued_token_type: ACCESS_TOKEN_TYPE, token_type: "Bearer", scope: "read" });
    expect(body.refresh_token).toBeUndefined();
    expect(body.id_token).toBeUndefined();

    const claims = decodeJwt(body.access_token as string);
    const original = decodeJwt(subject.token);
    expect(claims).toMatchObject({ iss: ISSUER, sub: user.id, aud: DOWNSTREAM, client_id: server.clientId, scope: "read", gid: subject.grantId });
    expect(claims.origin_client_id).toBe(front.clientId);
    // Impersonation: no actor (RFC 8693 §4.1 `act` is for delegation).
    expect(claims.act).toBeUndefined();
    expect(claims.exp!).toBeLessThanOrEqual(original.exp!);
    expect(body.expires_in as number).toBeLessThanOrEqual(original.exp! - original.iat!);

    // The downstream API (requireToken({ resource: `${origin}/api` })) accepts it.
    const api = await SELF.fetch(`${BASE}/api/me`, { headers: { authorization: `Bearer ${body.access_token as string}` } });
    expect(api.status).toBe(200);
    expect(await api.json()).toMatchObject({ sub: user.id, client_id: server.clientId, scope: "read" });

    // Introspection: active, with the new audience; the subject token still works too.
    expect(await introspect(server, body.access_token as string)).toMatchObject({ active: true, aud: DOWNSTREAM, scope: "read", client_id: server.clientId, sub: user.id });
    expect(await introspect(front, subject.token)).toMatchObject({ active: true });
  });

  it("defaults to the subject token's scope limited to the client's, and to the default audience; `audience` works like `resource`", async () => {
    const { server, subject } = await setting({ server: { scope: "read", resources: [ORDERS, BASE] } });
    const byDefault = await expectTokens(await exchange(server, subject.token));
    expect(byDefault.scope).toBe("read");
    expect(decodeJwt(byDefault.access_token).aud).toBe(BASE);

    const byAudience = await expectTokens(await exchange(server, subject.token, { audience: ORDERS }));
    expect(decodeJwt(byAudience.access_token).aud).toBe(ORDERS);
  });

  it("costs one KV read (the subject token's notes) and no D1 query on a warm isolate", async () => {
    const { server, subject } = await setting();
    await expectTokens(await exchange(server, subject.token, { resource: DOWNSTREAM }));
    const warm = await exchange(server, subject.token, { resource: DOWNSTREAM });
    expect(warm.status).toBe(200);
    expect(storageOps(warm)).toMatchObject({ d1: 0, kv: 1 });
  });

  it("never outlives the subject token", async () => {
    const user = await newUser("tx");
    const front = await frontClient();
    const server = await ordersServer();
    const ring = await loadKeyRing(env.SIGNING_KEYS);
    const issued = await issueAccessToken(ring, "ES256", {
      issuer: ISSUER,
      subject: user.id,
      audience: ORDERS,
      clientId: front.clientId,
      scope: ["read"],
      lifetimeSeconds: 90,
      claims: { gid: newGrantId() },
    });
    const body = await expectTokens(await exchange(server, issued.token, { resource: DOWNSTREAM }));
    expect(body.expires_in).toBeLessThanOrEqual(90);
    expect(decodeJwt(body.access_token).exp!).toBeLessThanOrEqual(issued.expiresAt);
  });

  it("keeps a pairwise subject token's sub (never revealing the user's id) and its sealed user", async () => {
    const { user, server, subject } = await setting({ front: { subjectType: "pairwise" } });
    const original = decodeJwt(subject.token);
    expect(original.sub).not.toBe(user.id);
    const body = await expectTokens(await exchange(server, subject.token, { resource: DOWNSTREAM }));
    const claims = decodeJwt(body.access_token);
    expect(claims.sub).toBe(original.sub);
    expect(claims.usr).toBe(original.usr);
    const seen = await introspect(server, body.access_token);
    expect(seen).toMatchObject({ active: true, sub: original.sub });
    expect(seen.username).toBeUndefined();
  });

  it("reports token.issued with grantType token_exchange, and is advertised in the metadata", async () => {
    const { user, server, subject } = await setting();
    const events: ProviderEvent[] = [];
    const app = createProvider({ events: (event) => void events.push(event) });
    const res = await app.request(
      `${BASE}/o/token/`,
      {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(server.clientId, server.clientSecret) },
        body: form({ grant_type: TOKEN_EXCHANGE, subject_token: subject.token, subject_token_type: ACCESS_TOKEN_TYPE, scope: "read", resource: DOWNSTREAM }),
      },
      env,
    );
    await expectTokens(res);
    expect(events).toEqual([{ type: "token.issued", grantType: "token_exchange", clientId: server.clientId, userId: user.id, scope: "read" }]);
    expect(JSON.stringify(events)).not.toContain(subject.token);

    const metadata = await (await SELF.fetch(`${ISSUER}/.well-known/openid-configuration`)).json<{ grant_types_supported: string[] }>();
    expect(metadata.grant_types_supported).toContain(TOKEN_EXCHANGE);
  });
});

describe("token exchange: refused requests", () => {
  it("needs subject_token and subject_token_type, and accepts only the access token type", async () => {
    const { server, subject } = await setting();
    await expectTokenError(await tokenRequest(server, { grant_type: TOKEN_EXCHANGE, subject_token_type: ACCESS_TOKEN_TYPE }), "invalid_request");
    await expectTokenError(await tokenRequest(server, { grant_type: TOKEN_EXCHANGE, subject_token: subject.token }), "invalid_request");
    for (const type of ["urn:ietf:params:oauth:token-type:id_token", "urn:ietf:params:oauth:token-type:refresh_token", "urn:ietf:params:oauth:token-type:jwt", "access_token"]) {
      const body = await expectTokenError(await exchange(server, subject.token, { subject_token_type: type }), "invalid_request");
      expect(body.error_description).toContain("subject_token_type");
    }
  });

  it("refuses an unsupported requested_token_type", async () => {
    const { server, subject } = await setting();
    for (const type of ["urn:ietf:params:oauth:token-type:refresh_token", "urn:ietf:params:oauth:token-type:id_token", "urn:ietf:params:oauth:token-type:jwt"]) {
      const body = await expectTokenError(await exchange(server, subject.token, { requested_token_type: type }), "invalid_request");
      expect(body.error_description).toContain("requested_token_type");
    }
    await expectTokens(await exchange(server, subject.token, { requested_token_type: ACCESS_TOKEN_TYPE, resource: DOWNSTREAM }));
  });

  it("refuses actor_token (delegation is not supported) with a clear description", async () => {
    const { server, subject } = await setting();
    const body = await expectTokenError(await exchange(server, subject.token, { actor_token: subject.token, actor_token_type: ACCESS_TOKEN_TYPE }), "invalid_request");
    expect(body.error_description).toContain("actor_token is not supported");
    await expectTokenError(await exchange(server, subject.token, { actor_token_type: ACCESS_TOKEN_TYPE }), "invalid_request");
  });

  it("refuses an invalid, expired or revoked subject token (invalid_grant)", async () => {
    const { user, front, server, subject } = await setting();
    await expectTokenError(await exchange(server, "not-a-token", { resource: DOWNSTREAM }), "invalid_grant");
    const [h, p] = subject.token.split(".");
    await expectTokenError(await exchange(server, `${h}.${p}.AAAA`, { resource: DOWNSTREAM }), "invalid_grant");

    const expired = await issueAccessToken(await loadKeyRing(env.SIGNING_KEYS), "ES256", {
      issuer: ISSUER,
      subject: user.id,
      audience: ORDERS,
      clientId: front.clientId,
      scope: ["read"],
      lifetimeSeconds: -10,
      claims: { gid: newGrantId() },
    });
    const body = await expectTokenError(await exchange(server, expired.token, { resource: DOWNSTREAM }), "invalid_grant");
    expect(body.error_description).toContain("expired");

    // The front client revokes its refresh token: the whole grant, its access tokens through a KV note.
    const revoked = await SELF.fetch(`${ISSUER}/revoke_token/`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(front.clientId, front.clientSecret) },
      body: form({ token: subject.refreshToken }),
    });
    expect(revoked.status).toBe(200);
    const refused = await expectTokenError(await exchange(server, subject.token, { resource: DOWNSTREAM }), "invalid_grant");
    expect(refused.error_description).toContain("revoked");
  });

  it("refuses a token signed by another key, or by another issuer", async () => {
    const { user, front, server } = await setting();
    const { privateKey, publicKey } = await generateKeyPair("ES256");
    const kid = (await exportJWK(publicKey)).x!.slice(0, 8);
    const payload = { client_id: front.clientId, scope: "read", gid: newGrantId(), jti: crypto.randomUUID() };
    const foreign = await new SignJWT(payload)
      .setProtectedHeader({ alg: "ES256", kid, typ: "at+jwt" })
      .setIssuer(ISSUER)
      .setSubject(user.id)
      .setAudience(ORDERS)
      .setIssuedAt()
      .setExpirationTime("5m")
      .sign(privateKey);
    await expectTokenError(await exchange(server, foreign, { resource: DOWNSTREAM }), "invalid_grant");

    const otherIssuer = await issueAccessToken(await loadKeyRing(env.SIGNING_KEYS), "ES256", {
      issuer: "https://other.example/o",
      subject: user.id,
      audience: ORDERS,
      clientId: front.clientId,
      scope: ["read"],
      lifetimeSeconds: 60,
      claims: { gid: newGrantId() },
    });
    await expectTokenError(await exchange(server, otherIssuer.token, { resource: DOWNSTREAM }), "invalid_grant");
  });

  it("refuses a client_credentials token and an already exchanged token", async () => {
    const { server, subject } = await setting();
    const machine = await createClient({ resources: [ORDERS] });
    const cc = await expectTokens(await tokenRequest(machine, { grant_type: "client_credentials", scope: "read", resource: ORDERS }));
    await expectTokenError(await exchange(server, cc.access_token, { resource: DOWNSTREAM }), "invalid_grant");

    const once = await expectTokens(await exchange(server, subject.token, { resource: ORDERS }));
    const twice = await expectTokenError(await exchange(server, once.access_token, { resource: DOWNSTREAM }), "invalid_grant");
    expect(twice.error_description).toContain("exchanged");
  });

  it("refuses scope widening (invalid_scope), also to a scope the client has but the subject token lacks", async () => {
    const { server, subject } = await setting({ scope: ["read"] });
    const body = await expectTokenError(await exchange(server, subject.token, { scope: "read write", resource: DOWNSTREAM }), "invalid_scope");
    expect(body.error_description).toContain("never widen");
    await expectTokenError(await exchange(server, subject.token, { scope: "write", resource: DOWNSTREAM }), "invalid_scope");
    await expectTokenError(await exchange(server, subject.token, { scope: "introspection", resource: DOWNSTREAM }), "invalid_scope");
  });

  it("refuses a scope the subject token has but the client may not have", async () => {
    const { server, subject } = await setting({ server: { scope: "read" } });
    await expectTokenError(await exchange(server, subject.token, { scope: "write", resource: DOWNSTREAM }), "invalid_scope");
  });

  it("refuses an unknown resource, or one the client may not ask for (invalid_target)", async () => {
    const { server, subject } = await setting();
    await expectTokenError(await exchange(server, subject.token, { resource: "https://evil.example/api" }), "invalid_target");
    await expectTokenError(await exchange(server, subject.token, { audience: "https://evil.example/api" }), "invalid_target");
    await expectTokenError(await exchange(server, subject.token, { resource: BILLING }), "invalid_target");
    await expectTokenError(await exchange(server, subject.token, { audience: "not a uri" }), "invalid_target");
    // A client registered with resources names one (the default audience is not among them).
    await expectTokenError(await exchange(server, subject.token), "invalid_target");
  });

  it("refuses a client not registered for the grant, and a public client", async () => {
    const { subject } = await setting();
    const other = await createClient({ grantTypes: ["client_credentials"], resources: [ORDERS] });
    await expectTokenError(await exchange(other, subject.token), "unauthorized_client");

    // A public client cannot even be registered with the grant; one stored anyway is still refused.
    await expect(createClient({ clientType: "public", grantTypes: [TOKEN_EXCHANGE], resources: [ORDERS] })).rejects.toThrow(/public clients cannot use token-exchange/);
    const { client } = await createClient({ clientType: "public", grantTypes: ["authorization_code"], redirectUris: [REDIRECT] });
    await env.DB.prepare("UPDATE clients SET grant_types = ? WHERE id = ?").bind(JSON.stringify([TOKEN_EXCHANGE]), client.id).run();
    await expectTokenError(await exchange({ clientId: client.id, clientSecret: "" }, subject.token), "unauthorized_client");
  });

  it("refuses a subject token issued for an API the client does not serve (another client's API)", async () => {
    const user = await newUser("tx");
    const front = await frontClient();
    const billingServer = await ordersServer({ name: "Billing API", resources: [BILLING, DOWNSTREAM] });
    const ordersToken = await userToken(front.client, user.id, { resources: [ORDERS] });
    const body = await expectTokenError(await exchange(billingServer, ordersToken.token, { resource: DOWNSTREAM }), "invalid_grant");
    expect(body.error_description).toContain("resource this client serves");

    // The default audience (a token for no named resource) is served by none of them.
    const defaultToken = await userToken(front.client, user.id, { resources: [BASE] });
    await expectTokenError(await exchange(billingServer, defaultToken.token, { resource: DOWNSTREAM }), "invalid_grant");
    // A path that only starts like a served one is not under it.
    const lookalike = await userToken(front.client, user.id, { resources: [`${BASE}/billingx`] });
    await expectTokenError(await exchange(billingServer, lookalike.token, { resource: DOWNSTREAM }), "invalid_grant");
  });

  it("a token-exchange client must name the resources it serves", async () => {
    await expect(createClient({ grantTypes: [TOKEN_EXCHANGE] })).rejects.toThrow(/token-exchange needs the resources the client serves/);
  });

  it("dynamic registration never gives the grant, in any mode (registrants cannot name the resources a client serves)", () => {
    const metadata = { grant_types: [TOKEN_EXCHANGE], token_endpoint_auth_method: "client_secret_basic" };
    expect(() => registrationFromMetadata(metadata, { settings: settings(), source: "registration" })).toThrow(/grant_types may contain/);
  });
});

describe("token exchange: revocation reaches the exchanged token", () => {
  it("revoking the user's grant afterwards makes the exchanged token inactive", async () => {
    const { front, server, subject } = await setting();
    const exchanged = await expectTokens(await exchange(server, subject.token, { resource: DOWNSTREAM }));
    expect(await introspect(server, exchanged.access_token)).toMatchObject({ active: true });
    const revoked = await SELF.fetch(`${ISSUER}/revoke_token/`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(front.clientId, front.clientSecret) },
      body: form({ token: subject.refreshToken }),
    });
    expect(revoked.status).toBe(200);
    expect(await introspect(server, exchanged.access_token)).toEqual({ active: false });
    const api = await SELF.fetch(`${BASE}/api/me`, { headers: { authorization: `Bearer ${exchanged.access_token}` } });
    expect(api.status).toBe(401);
  });

  it("so do disabling the user, the user revoking the original client, and deleting the original client", async () => {
    const lifetime = settings().ACCESS_TOKEN_EXPIRE_SECONDS;
    {
      const { user, server, subject } = await setting();
      const exchanged = await expectTokens(await exchange(server, subject.token, { resource: DOWNSTREAM }));
      await setUserActive(db(), user.username, false);
      await revokeUserAccessTokens(env.KV, user.id, lifetime);
      expect(await introspect(server, exchanged.access_token)).toEqual({ active: false });
    }
    {
      const { user, front, server, subject } = await setting();
      const exchanged = await expectTokens(await exchange(server, subject.token, { resource: DOWNSTREAM }));
      await revokeUserClientAccessTokens(env.KV, user.id, front.clientId, lifetime);
      expect(await introspect(server, exchanged.access_token)).toEqual({ active: false });
    }
    {
      const { front, server, subject } = await setting({ front: { subjectType: "pairwise" } });
      const exchanged = await expectTokens(await exchange(server, subject.token, { resource: DOWNSTREAM }));
      expect(await deleteClientAndTokens({ db: db(), kv: env.KV }, front.clientId, { ACCESS_TOKEN_EXPIRE_SECONDS: lifetime })).toBe(true);
      expect(await introspect(server, exchanged.access_token)).toEqual({ active: false });
    }
  });

  it("a disabled user's token cannot be exchanged", async () => {
    const { user, server, subject } = await setting();
    await setUserActive(db(), user.username, false);
    const body = await expectTokenError(await exchange(server, subject.token, { resource: DOWNSTREAM }), "invalid_grant");
    expect(body.error_description).toContain("user");
  });
});

describe("token exchange: a DPoP-bound subject token", () => {
  // The API received the token with a proof of the user's key, which it cannot make itself: it
  // exchanges the token on its own authentication. The new token is not bound to the user's key
  // (the API could not use it); it is Bearer, or bound to the API's key when it sends a proof.
  it("is exchanged without a proof of its key; the new token carries no cnf of it", async () => {
    const { user, front, server } = await setting();
    const grant = { grantId: newGrantId(), userId: user.id, scope: ["read"], resources: [ORDERS] };
    const bound = await userAccessToken(await loadKeyRing(env.SIGNING_KEYS), { ...ctx(), dpop: { jkt: "user-key-thumbprint" } }, front.client, grant);
    expect(decodeJwt(bound.token).cnf).toEqual({ jkt: "user-key-thumbprint" });
    const body = await expectTokens(await exchange(server, bound.token, { resource: DOWNSTREAM }));
    expect(body.token_type).toBe("Bearer");
    expect(decodeJwt(body.access_token).cnf).toBeUndefined();
  });
});
