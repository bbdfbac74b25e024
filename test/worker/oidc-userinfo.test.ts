import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { setUserActive } from "../../src/db/users";
import { Browser, redirectParams } from "./support/browser";
import { basic, db, form, ISSUER, postToken } from "./support/helpers";
import { authorizeUrl, exchangeCode, expectTokens, type ClientCredentials } from "./support/flow";
import { expectOidcTokens, oidcClient, oidcRequest, signedInOidc, userinfo, verifyIdToken } from "./support/oidc-helpers";

/** OIDC Core §5.3 UserInfo, with RFC 6750 for how the access token is presented and refused. */

const URL_ = `${ISSUER}/userinfo/`;

async function tokensFor(client: ClientCredentials, browser: Browser, extra: Record<string, string> = {}) {
  const code = redirectParams(await browser.get(authorizeUrl(oidcRequest(client.clientId, extra)))).get("code")!;
  return await expectOidcTokens(await exchangeCode(client, code));
}

async function setup(extra: Record<string, string> = { scope: "openid profile" }) {
  const client = await oidcClient();
  const user = await signedInOidc();
  return { client, user, tokens: await tokensFor(client, user.browser, extra) };
}

/** RFC 6750 §3: an error response with its Bearer challenge. */
async function expectBearerError(res: Response, status: number, error: string) {
  expect(res.status).toBe(status);
  const challenge = res.headers.get("www-authenticate") ?? "";
  expect(challenge).toMatch(/^Bearer /);
  expect(challenge).toContain(`error="${error}"`);
  expect((await res.json<{ error: string }>()).error).toBe(error);
  expect(res.headers.get("cache-control")).toBe("no-store");
}

describe("presenting the access token", () => {
  it("GET with the Authorization header", async () => {
    const { tokens, user } = await setup();
    const res = await userinfo(tokens.access_token);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(await res.json()).toMatchObject({ sub: user.id, name: "Jane Doe" });
  });

  it("POST with the Authorization header", async () => {
    const { tokens, user } = await setup();
    const res = await userinfo(tokens.access_token, { method: "POST" });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ sub: user.id });
  });

  it("POST with access_token in the form body (RFC 6750 §2.2)", async () => {
    const { tokens, user } = await setup();
    const res = await SELF.fetch(URL_, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: form({ access_token: tokens.access_token }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ sub: user.id, name: "Jane Doe" });
  });

  it("in the query string: 400 invalid_request (RFC 6750 §2.3 is not supported: tokens leak from URLs)", async () => {
    const { tokens } = await setup();
    await expectBearerError(await SELF.fetch(`${URL_}?access_token=${tokens.access_token}`), 400, "invalid_request");
  });

  it("in the header and the body at once: 400 invalid_request", async () => {
    const { tokens } = await setup();
    const res = await SELF.fetch(URL_, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: `Bearer ${tokens.access_token}` },
      body: form({ access_token: tokens.access_token }),
    });
    await expectBearerError(res, 400, "invalid_request");
  });

  it("missing: 401 with a Bearer challenge that names no error (RFC 6750 §3.1)", async () => {
    for (const method of ["GET", "POST"]) {
      const res = await SELF.fetch(URL_, { method });
      expect(res.status, method).toBe(401);
      const challenge = res.headers.get("www-authenticate")!;
      expect(challenge).toMatch(/^Bearer realm=/);
      expect(challenge).not.toContain("error=");
    }
  });

  it("another scheme (Basic) is no token: 401", async () => {
    const res = await SELF.fetch(URL_, { headers: { authorization: basic("a", "b") } });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer /);
  });
});

describe("refusing the access token", () => {
  it("invalid (not one of ours, or tampered): 401 invalid_token", async () => {
    const { tokens } = await setup();
    await expectBearerError(await userinfo("not-a-token"), 401, "invalid_token");
    const tampered = tokens.access_token.slice(0, -4) + (tokens.access_token.endsWith("AAAA") ? "BBBB" : "AAAA");
    await expectBearerError(await userinfo(tampered), 401, "invalid_token");
  });

  it("an ID token is not an access token: 401 invalid_token", async () => {
    const { tokens } = await setup();
    await expectBearerError(await userinfo(tokens.id_token), 401, "invalid_token");
  });

  it("revoked (RFC 7009): 401 invalid_token", async () => {
    const { tokens, client } = await setup();
    const revoke = await SELF.fetch(`${ISSUER}/revoke_token/`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(client.clientId, client.clientSecret) },
      body: form({ token: tokens.access_token }),
    });
    expect(revoke.status).toBe(200);
    await expectBearerError(await userinfo(tokens.access_token), 401, "invalid_token");
  });

  it("the user was disabled: 401 invalid_token", async () => {
    const { tokens, user } = await setup();
    await setUserActive(db(), user.username, false);
    await expectBearerError(await userinfo(tokens.access_token), 401, "invalid_token");
  });

  it("a user token without the openid scope: 403 insufficient_scope naming openid", async () => {
    const client = await oidcClient();
    const { browser } = await signedInOidc();
    const code = redirectParams(await browser.get(authorizeUrl(oidcRequest(client.clientId, { scope: "read" })))).get("code")!;
    const tokens = await expectTokens(await exchangeCode(client, code));
    const res = await userinfo(tokens.access_token);
    expect(res.headers.get("www-authenticate")).toContain('scope="openid"');
    await expectBearerError(res, 403, "insufficient_scope");
  });

  it("a client_credentials token (no user): 403 insufficient_scope", async () => {
    const client = await oidcClient({ grantTypes: ["client_credentials"], redirectUris: [] });
    const res = await postToken({ grant_type: "client_credentials" }, { authorization: basic(client.clientId, client.clientSecret) });
    const { access_token } = await expectTokens(res);
    await expectBearerError(await userinfo(access_token), 403, "insufficient_scope");
  });

  it("other methods: 405", async () => {
    const { tokens } = await setup();
    const res = await userinfo(tokens.access_token, { method: "PUT" });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toContain("GET");
  });
});

describe("CORS", () => {
  const SPA = "https://spa.example.com";

  it("a registered origin may read the response, preflight included; another origin gets no CORS headers", async () => {
    const client = await oidcClient({ allowedOrigins: [SPA] });
    const { browser } = await signedInOidc();
    const tokens = await tokensFor(client, browser);

    const preflight = await SELF.fetch(URL_, {
      method: "OPTIONS",
      headers: { origin: SPA, "access-control-request-method": "GET", "access-control-request-headers": "authorization" },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe(SPA);
    expect(preflight.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("authorization");

    const res = await userinfo(tokens.access_token, { headers: { origin: SPA } });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe(SPA);
    expect(res.headers.get("vary")).toContain("Origin");

    const foreign = await userinfo(tokens.access_token, { headers: { origin: "https://evil.example.com" } });
    expect(foreign.status).toBe(200);
    expect(foreign.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("an origin registered by another client is not allowed for this client's token", async () => {
    const client = await oidcClient();
    await oidcClient({ allowedOrigins: ["https://other-spa.example.com"] });
    const { browser } = await signedInOidc();
    const tokens = await tokensFor(client, browser);
    const res = await userinfo(tokens.access_token, { headers: { origin: "https://other-spa.example.com" } });
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("pairwise subjects (OIDC Core §8.1)", () => {
  it("a pairwise client sees another sub than a public client; stable, and the same in the ID token and at userinfo", async () => {
    const pairwise = await oidcClient({ subjectType: "pairwise" });
    const pairwiseSameSector = await oidcClient({ subjectType: "pairwise" });
    const publicClient = await oidcClient();
    const { browser, id } = await signedInOidc();

    const first = await tokensFor(pairwise, browser);
    const second = await tokensFor(pairwise, browser);
    const sub = (await verifyIdToken(first.id_token, pairwise.clientId)).payload.sub!;
    expect(sub).not.toBe(id);
    expect((await verifyIdToken(second.id_token, pairwise.clientId)).payload.sub).toBe(sub);
    expect((await userinfo(first.access_token).then((r) => r.json<{ sub: string }>())).sub).toBe(sub);
    expect((await userinfo(second.access_token).then((r) => r.json<{ sub: string }>())).sub).toBe(sub);

    // Pairwise per sector (the redirect URIs' host): two clients of one sector see the same sub.
    const sameSector = await tokensFor(pairwiseSameSector, browser);
    expect((await verifyIdToken(sameSector.id_token, pairwiseSameSector.clientId)).payload.sub).toBe(sub);

    const pub = await tokensFor(publicClient, browser);
    expect((await verifyIdToken(pub.id_token, publicClient.clientId)).payload.sub).toBe(id);
    expect((await userinfo(pub.access_token).then((r) => r.json<{ sub: string }>())).sub).toBe(id);
  });

  it("another sector sees yet another sub, and two users never share one", async () => {
    const a = await oidcClient({ subjectType: "pairwise" });
    const b = await oidcClient({ subjectType: "pairwise", redirectUris: ["https://other-rp.example.net/cb"] });
    const one = await signedInOidc();
    const two = await signedInOidc();
    const subA1 = (await verifyIdToken((await tokensFor(a, one.browser)).id_token, a.clientId)).payload.sub;
    const subA2 = (await verifyIdToken((await tokensFor(a, two.browser)).id_token, a.clientId)).payload.sub;
    const code = redirectParams(
      await one.browser.get(authorizeUrl(oidcRequest(b.clientId, { redirect_uri: "https://other-rp.example.net/cb" }))),
    ).get("code")!;
    const tokensB = await expectOidcTokens(await exchangeCode(b, code, { redirect_uri: "https://other-rp.example.net/cb" }));
    const subB1 = (await verifyIdToken(tokensB.id_token, b.clientId)).payload.sub;
    expect(new Set([subA1, subA2, subB1, one.id]).size).toBe(4);
  });
});

it("the ID token's sub equals the access token's user at userinfo for a public subject", async () => {
  const { tokens, client } = await setup({ scope: "openid" });
  const idSub = (await verifyIdToken(tokens.id_token, client.clientId)).payload.sub;
  expect((await userinfo(tokens.access_token).then((r) => r.json<{ sub: string }>())).sub).toBe(idSub);
});

it("the signed-in browser's cookies do not authenticate at userinfo", async () => {
  const { browser } = await signedInOidc();
  expect(browser.cookies.size).toBeGreaterThan(0);
  expect((await browser.get("/o/userinfo/")).status).toBe(401);
});
