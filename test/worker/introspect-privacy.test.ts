import { env, SELF } from "cloudflare:test";
import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { issueAccessToken } from "../../src/tokens/access-token";
import { loadKeyRing } from "../../src/tokens/keys";
import { newUser, type ClientCredentials } from "./support/flow";
import { basic, BASE, createClient, form, ISSUER, storageOps } from "./support/helpers";
import { mintUserTokens } from "./support/minted-tokens";

/** RFC 7662 §4 and OIDC Core §8.1: who may see a token's details, and which subject they see. */

const introspect = (token: string, authorization: string) =>
  SELF.fetch(`${ISSUER}/introspect/`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization },
    body: form({ token }),
  });

const asClient = (client: ClientCredentials) => basic(client.clientId, client.clientSecret);

const userClient = (overrides: Parameters<typeof createClient>[0] = {}) =>
  createClient({ grantTypes: ["authorization_code", "refresh_token"], redirectUris: ["https://app.example.com/callback"], ...overrides });

async function userTokens(client: Awaited<ReturnType<typeof createClient>>) {
  const user = await newUser("intro");
  return { ...user, ...(await mintUserTokens(client.client, user.id)) };
}

/** An access token signed with the provider's own key, for claims the token endpoint does not issue yet. */
async function serverToken(claims: { clientId: string; audience: string | string[]; scope: string[] }) {
  const { token } = await issueAccessToken(await loadKeyRing(env.SIGNING_KEYS), "ES256", {
    issuer: ISSUER,
    subject: claims.clientId,
    lifetimeSeconds: 300,
    ...claims,
  });
  return token;
}

describe("introspection of a pairwise client's tokens", () => {
  it("its own client sees the pairwise sub and no username, for access and refresh tokens", async () => {
    const client = await userClient({ subjectType: "pairwise" });
    const { id, username, access_token, refresh_token, sub: pairwiseSub } = await userTokens(client);
    expect(decodeJwt(access_token).sub).toBe(pairwiseSub);
    expect(pairwiseSub).not.toBe(id);

    for (const token of [access_token, refresh_token]) {
      const res = await introspect(token, asClient(client));
      const text = await res.text();
      expect(JSON.parse(text)).toMatchObject({ active: true, sub: pairwiseSub, client_id: client.clientId });
      expect(JSON.parse(text)).not.toHaveProperty("username");
      expect(text).not.toContain(id);
      expect(text).not.toContain(username);
    }
  });

  it("a public-subject client still sees the user id and username", async () => {
    const client = await userClient();
    const { id, username, refresh_token } = await userTokens(client);
    expect(await (await introspect(refresh_token, asClient(client))).json()).toMatchObject({ active: true, sub: id, username });
  });
});

describe("who may introspect a token", () => {
  it("another confidential client gets exactly inactive, for access and refresh tokens", async () => {
    const owner = await userClient();
    const stranger = await createClient();
    const { access_token, refresh_token } = await userTokens(owner);
    for (const token of [access_token, refresh_token]) {
      expect(await (await introspect(token, asClient(stranger))).json()).toEqual({ active: false });
      expect(await (await introspect(token, asClient(owner))).json()).toMatchObject({ active: true });
    }
  });

  it("a client registered with the introspection scope sees every client's tokens", async () => {
    const owner = await userClient({ subjectType: "pairwise" });
    const resourceServer = await createClient({ scope: "read introspection" });
    const { id, access_token, refresh_token, sub } = await userTokens(owner);
    for (const token of [access_token, refresh_token]) {
      const text = await (await introspect(token, asClient(resourceServer))).text();
      expect(JSON.parse(text)).toMatchObject({ active: true, client_id: owner.clientId, sub });
      expect(text).not.toContain(id);
    }
  });

  it("a resource server named in the token's audience sees it; one that is not gets inactive", async () => {
    const owner = await createClient();
    const named = await createClient();
    const other = await createClient();
    const token = await serverToken({ clientId: owner.clientId, audience: [BASE, named.clientId], scope: ["read"] });
    expect(await (await introspect(token, asClient(named))).json()).toMatchObject({ active: true, client_id: owner.clientId });
    expect(await (await introspect(token, asClient(other))).json()).toEqual({ active: false });
  });

  it("a Bearer caller with the introspection scope keeps working, at one KV read when warm", async () => {
    const owner = await createClient();
    const resourceServer = await createClient();
    const caller = await serverToken({ clientId: resourceServer.clientId, audience: BASE, scope: ["introspection"] });
    const token = await serverToken({ clientId: owner.clientId, audience: BASE, scope: ["read"] });
    await introspect(token, `Bearer ${caller}`);
    const res = await introspect(token, `Bearer ${caller}`);
    expect(await res.json()).toMatchObject({ active: true, client_id: owner.clientId });
    expect(storageOps(res)).toEqual({ d1: 0, d1_statements: 0, kv: 1 });
  });

  it("a Bearer caller's token issued for a resource (RFC 8707 aud) is not accepted: it is not for this server", async () => {
    const owner = await createClient();
    const resourceServer = await createClient();
    const token = await serverToken({ clientId: owner.clientId, audience: BASE, scope: ["read"] });
    const forApi = await serverToken({ clientId: resourceServer.clientId, audience: `${BASE}/api`, scope: ["introspection"] });
    expect((await introspect(token, `Bearer ${forApi}`)).status).toBe(401);
    const forUs = await serverToken({ clientId: resourceServer.clientId, audience: [BASE, `${BASE}/api`], scope: ["introspection"] });
    expect((await introspect(token, `Bearer ${forUs}`)).status).toBe(200);
  });

  it("a refused caller costs no KV read", async () => {
    const owner = await createClient();
    const stranger = await createClient();
    const token = await serverToken({ clientId: owner.clientId, audience: BASE, scope: ["read"] });
    await introspect(token, asClient(stranger));
    const res = await introspect(token, asClient(stranger));
    expect(await res.json()).toEqual({ active: false });
    expect(storageOps(res)).toEqual({ d1: 0, d1_statements: 0, kv: 0 });
  });
});
