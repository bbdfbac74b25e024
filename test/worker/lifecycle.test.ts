import { env, SELF } from "cloudflare:test";
import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { deleteClient, forgetCachedClient } from "../../src/db/clients";
import { registerUser } from "../../src/db/registration";
import { basic, BASE, createClient, db, form, postToken, storageOps } from "./support/helpers";

async function post(path: string, body: Record<string, string>, headers: Record<string, string> = {}) {
  return SELF.fetch(`${BASE}${path}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: form(body),
  });
}

async function passwordTokens(clientId: string, clientSecret: string) {
  const username = `bob${crypto.randomUUID().slice(0, 8)}`;
  await registerUser(db(), { username, password: "a long password" });
  const res = await postToken(
    { grant_type: "password", username, password: "a long password", scope: "read" },
    { authorization: basic(clientId, clientSecret) },
  );
  expect(res.status).toBe(200);
  return { username, ...(await res.json<{ access_token: string; refresh_token: string }>()) };
}

const api = (token: string) => SELF.fetch(`${BASE}/api/me`, { headers: { authorization: `Bearer ${token}` } });

describe("revocation, introspection and the protected API", () => {
  it("revoking an access token makes introspection inactive and the middleware reject it", async () => {
    const { clientId, clientSecret } = await createClient({ grantTypes: ["password", "refresh_token"] });
    const auth = { authorization: basic(clientId, clientSecret) };
    const { access_token, username } = await passwordTokens(clientId, clientSecret);

    expect((await api(access_token)).status).toBe(200);
    const before = await post("/o/introspect/", { token: access_token }, auth);
    expect(before.status).toBe(200);
    expect(await before.json()).toMatchObject({ active: true, client_id: clientId, username, scope: "read", token_type: "Bearer" });

    expect((await post("/o/revoke_token/", { token: access_token, token_type_hint: "access_token" }, auth)).status).toBe(200);
    expect(await (await post("/o/introspect/", { token: access_token }, auth)).json()).toEqual({ active: false });
    const rejected = await api(access_token);
    expect(rejected.status).toBe(401);
    expect(rejected.headers.get("www-authenticate")).toContain('error="invalid_token"');
  });

  it("introspecting an access token costs no D1 query and one KV read on a warm isolate", async () => {
    const { clientId, clientSecret } = await createClient({ grantTypes: ["password", "refresh_token"] });
    const auth = { authorization: basic(clientId, clientSecret) };
    const { access_token } = await passwordTokens(clientId, clientSecret);
    await post("/o/introspect/", { token: access_token }, auth);
    const warm = await post("/o/introspect/", { token: access_token }, auth);
    expect(storageOps(warm)).toEqual({ d1: 0, d1_statements: 0, kv: 1 });
  });

  it("revoking a refresh token revokes its family's access tokens", async () => {
    const { clientId, clientSecret } = await createClient({ grantTypes: ["password", "refresh_token"] });
    const auth = { authorization: basic(clientId, clientSecret) };
    const { access_token, refresh_token } = await passwordTokens(clientId, clientSecret);
    expect((await post("/o/revoke_token/", { token: refresh_token }, auth)).status).toBe(200);
    expect(await (await post("/o/introspect/", { token: refresh_token }, auth)).json()).toEqual({ active: false });
    expect(await (await post("/o/introspect/", { token: access_token }, auth)).json()).toEqual({ active: false });
    const refresh = await postToken({ grant_type: "refresh_token", refresh_token }, auth);
    expect(refresh.status).toBe(400);
  });

  it("a client cannot revoke another client's token", async () => {
    const a = await createClient({ grantTypes: ["password", "refresh_token"] });
    const b = await createClient({ grantTypes: ["client_credentials"] });
    const { access_token } = await passwordTokens(a.clientId, a.clientSecret);
    const res = await post("/o/revoke_token/", { token: access_token }, { authorization: basic(b.clientId, b.clientSecret) });
    expect(res.status).toBe(400);
    expect((await api(access_token)).status).toBe(200);
  });

  it("introspection requires authentication", async () => {
    const res = await post("/o/introspect/", { token: "x" });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: "invalid_client" });
  });

  it("unknown tokens revoke fine and introspect as exactly inactive", async () => {
    const { clientId, clientSecret } = await createClient();
    const auth = { authorization: basic(clientId, clientSecret) };
    expect((await post("/o/revoke_token/", { token: "nope" }, auth)).status).toBe(200);
    for (const token of ["nope", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."]) {
      expect(await (await post("/o/introspect/", { token }, auth)).json()).toEqual({ active: false });
    }
  });

  it("the middleware checks scopes and follows RFC 6750", async () => {
    const { clientId, clientSecret } = await createClient({ scope: "write" });
    const token = (await (await postToken({ grant_type: "client_credentials" }, { authorization: basic(clientId, clientSecret) })).json<{ access_token: string }>()).access_token;
    const forbidden = await api(token);
    expect(forbidden.status).toBe(403);
    expect(forbidden.headers.get("www-authenticate")).toContain('error="insufficient_scope"');
    expect(forbidden.headers.get("www-authenticate")).toContain('scope="read"');

    const missing = await SELF.fetch(`${BASE}/api/me`);
    expect(missing.status).toBe(401);
    expect(missing.headers.get("www-authenticate")).toBe(`Bearer realm="api", scope="read", resource_metadata="${BASE}/.well-known/oauth-protected-resource/api"`);
    const inQuery = await SELF.fetch(`${BASE}/api/me?access_token=${token}`);
    expect(inQuery.status).toBe(400);
    const garbage = await SELF.fetch(`${BASE}/api/me`, { headers: { authorization: "Bearer not a token" } });
    expect(garbage.status).toBe(400);
    expect(decodeJwt(token).scope).toBe("write");
    expect(env.KV).toBeDefined();
  });

  it("the protected route costs one KV read and no D1 query", async () => {
    const { clientId, clientSecret } = await createClient();
    forgetCachedClient();
    const token = (await (await postToken({ grant_type: "client_credentials" }, { authorization: basic(clientId, clientSecret) })).json<{ access_token: string }>()).access_token;
    const res = await api(token);
    expect(res.status).toBe(200);
    expect(storageOps(res)).toEqual({ d1: 0, d1_statements: 0, kv: 1 });
  });
});

describe("introspection of tokens whose client or user is gone", () => {
  it("a deleted client's tokens introspect as inactive", async () => {
    const { clientId, clientSecret } = await createClient({ grantTypes: ["password", "refresh_token"] });
    // A resource server may see other clients' tokens once registered with the introspection scope.
    const resourceServer = await createClient({ scope: "read introspection" });
    const rsAuth = { authorization: basic(resourceServer.clientId, resourceServer.clientSecret) };
    const { access_token } = await passwordTokens(clientId, clientSecret);
    expect(await (await post("/o/introspect/", { token: access_token }, rsAuth)).json()).toMatchObject({ active: true });
    await deleteClient(db(), clientId);
    forgetCachedClient(clientId);
    expect(await (await post("/o/introspect/", { token: access_token }, rsAuth)).json()).toEqual({ active: false });
  });
});
