import { env, SELF } from "cloudflare:test";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { revokeRefreshFamily } from "../../src/db/refresh-tokens";
import { requireToken } from "../../src/middleware/require-token";
import { parseSettings } from "../../src/core/settings";
import { revokeUserTokens, userNotBeforeKey } from "../../src/tokens/revocation";
import { newUser, refresh } from "./support/flow";
import { basic, BASE, createClient, db, form, ISSUER, storageOps } from "./support/helpers";
import { mintUserTokens } from "./support/minted-tokens";

/**
 * RFC 9700 §4.14.2: disabling a user or changing a password (the admin CLI's `user disable`,
 * `user set-password`, `user signout --revoke-tokens`) ends the user's refresh tokens and makes
 * their access tokens fail at every verifier. The CLI calls `revokeUserTokens`; so do these tests.
 */

const settings = () => parseSettings(env as unknown as Record<string, unknown>);
const revokeUser = (userId: string) => revokeUserTokens({ db: db(), kv: env.KV }, userId, settings());

const api = (token: string) => SELF.fetch(`${BASE}/api/me`, { headers: { authorization: `Bearer ${token}` } });
const introspect = (token: string, authorization: string) =>
  SELF.fetch(`${ISSUER}/introspect/`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", authorization }, body: form({ token }) });
const userinfo = (token: string) => SELF.fetch(`${ISSUER}/userinfo/`, { headers: { authorization: `Bearer ${token}` } });

/** A resource server in another Worker: the provider's JWKS and the shared KV, but no SECRET_KEY. */
const resourceServer = new Hono<{ Bindings: { PROVIDER: Fetcher; KV: KVNamespace } }>();
resourceServer.use("*", requireToken({ issuer: ISSUER, audience: BASE, jwksUrl: `${ISSUER}/.well-known/jwks.json`, service: "PROVIDER" }));
resourceServer.get("/orders", (c) => c.text("ok"));
const elsewhere = (token: string) =>
  resourceServer.request("/orders", { headers: { authorization: `Bearer ${token}` } }, { PROVIDER: SELF, KV: env.KV });

const userClient = (subjectType: "public" | "pairwise") =>
  createClient({ grantTypes: ["authorization_code", "refresh_token"], redirectUris: ["https://app.example.com/callback"], subjectType });

async function expectRefused(res: Response) {
  expect(res.status).toBe(401);
  expect(res.headers.get("www-authenticate")).toContain('error="invalid_token"');
}

describe("revoking every token of a user", () => {
  for (const subjectType of ["public", "pairwise"] as const) {
    it(`${subjectType} client: refresh fails, and the access token is refused everywhere`, async () => {
      const client = await userClient(subjectType);
      const user = await newUser("revoked");
      const tokens = await mintUserTokens(client.client, user.id);
      const bystander = await mintUserTokens(client.client, (await newUser("bystander")).id);
      expect((await api(tokens.access_token)).status).toBe(200);
      expect((await elsewhere(tokens.access_token)).status).toBe(200);

      expect(await revokeUser(user.id)).toEqual({ refreshTokens: 1, grants: 1 });

      expect((await refresh(client, tokens.refresh_token)).status).toBe(400);
      await expectRefused(await api(tokens.access_token));
      await expectRefused(await userinfo(tokens.access_token));
      // A resource server without SECRET_KEY cannot open a pairwise token's user id: the grant note refuses it.
      await expectRefused(await elsewhere(tokens.access_token));
      for (const token of [tokens.access_token, tokens.refresh_token]) {
        expect(await (await introspect(token, basic(client.clientId, client.clientSecret))).json()).toEqual({ active: false });
      }
      // Other users keep their tokens.
      expect((await api(bystander.access_token)).status).toBe(200);
      expect((await refresh(client, bystander.refresh_token)).status).toBe(200);
    });
  }

  it("one user note covers tokens of grants that have no refresh token, in the provider's Worker", async () => {
    const client = await userClient("pairwise");
    const user = await newUser("norefresh");
    const tokens = await mintUserTokens(client.client, user.id);
    // The grant's refresh token already gone (as after a logout): only the user note can reach its access token.
    await revokeRefreshFamily(db(), tokens.grantId, 1).run();
    expect((await api(tokens.access_token)).status).toBe(200);
    expect(await revokeUser(user.id)).toEqual({ refreshTokens: 0, grants: 0 });
    expect(await env.KV.get(userNotBeforeKey(user.id))).toMatch(/^\d+$/);
    await expectRefused(await api(tokens.access_token));
  });

  it("the user's note rides in the same KV read: /api/me stays at 0 D1 and 1 KV", async () => {
    const client = await userClient("pairwise");
    const user = await newUser("budget");
    const { access_token } = await mintUserTokens(client.client, user.id);
    await api(access_token);
    const warm = await api(access_token);
    expect(warm.status).toBe(200);
    expect(storageOps(warm)).toEqual({ d1: 0, d1_statements: 0, kv: 1 });
  });
});
