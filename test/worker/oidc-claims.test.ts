import { SELF } from "cloudflare:test";
import { decodeProtectedHeader } from "jose";
import { describe, expect, it } from "vitest";
import { redirectParams, type Browser } from "./support/browser";
import { ISSUER } from "./support/helpers";
import { authorizeUrl, exchangeCode, expectTokens, refresh, type ClientCredentials } from "./support/flow";
import {
  expectOidcTokens,
  leftHalfSha256,
  NONCE,
  oidcClient,
  oidcRequest,
  publishedKeys,
  signedInOidc,
  USER_CLAIMS,
  userinfo,
  verifyIdToken,
  type OidcTokens,
} from "./support/oidc-helpers";

/** OIDC Core §2 (ID token), §3.1.3.6–7, §12.2 (refresh), §5.1, §5.4 (scope claims), §5.5 (claims parameter). */

async function codeFlow(client: ClientCredentials, browser: Browser, extra: Record<string, string | undefined> = {}) {
  const res = await browser.get(authorizeUrl(oidcRequest(client.clientId, extra)));
  const code = redirectParams(res).get("code");
  expect(code, res.headers.get("location") ?? "").toBeTruthy();
  return expectOidcTokens(await exchangeCode(client, code!));
}

describe("the ID token of the code flow", () => {
  it("has iss, sub, aud, azp, exp, iat, auth_time, nonce, sid and at_hash; RS256 with typ JWT", async () => {
    const client = await oidcClient();
    const before = Math.floor(Date.now() / 1000);
    const { browser, id } = await signedInOidc();
    const tokens = await codeFlow(client, browser);
    const { payload, protectedHeader } = await verifyIdToken(tokens.id_token!, client.clientId);
    const now = Math.floor(Date.now() / 1000);

    expect(protectedHeader).toMatchObject({ alg: "RS256", typ: "JWT" });
    expect(payload.iss).toBe(ISSUER);
    expect(payload.sub).toBe(id);
    expect(payload.aud).toBe(client.clientId);
    expect(payload.azp).toBe(client.clientId);
    expect(payload.nonce).toBe(NONCE);
    expect(payload.iat).toBeGreaterThanOrEqual(before);
    expect(payload.iat).toBeLessThanOrEqual(now);
    expect(payload.exp! - payload.iat!).toBe(3600);
    expect(payload.auth_time).toBeGreaterThanOrEqual(before);
    expect(payload.auth_time).toBeLessThanOrEqual(payload.iat!);
    expect(payload.sid).toMatch(/^[A-Za-z0-9_-]{16,}$/);
    expect(payload.at_hash).toBe(await leftHalfSha256(tokens.access_token));
    // c_hash is for front-channel ID tokens; at the token endpoint it is optional and left out.
    expect(payload.c_hash).toBeUndefined();
    // No user claims unless asked for: the RP reads them at userinfo.
    expect(payload.name).toBeUndefined();
  });

  it("sid is the session's: the same for two authorizations of one sign-in, new after signing in again", async () => {
    const client = await oidcClient();
    const { browser, username } = await signedInOidc();
    const first = (await verifyIdToken((await codeFlow(client, browser)).id_token!, client.clientId)).payload;
    const second = (await verifyIdToken((await codeFlow(client, browser)).id_token!, client.clientId)).payload;
    expect(second.sid).toBe(first.sid);
    await browser.login(username, "correct horse battery");
    const third = (await verifyIdToken((await codeFlow(client, browser)).id_token!, client.clientId)).payload;
    expect(third.sid).not.toBe(first.sid);
    expect(third.sub).toBe(first.sub);
  });

  it("on refresh: a new ID token with the same sub, auth_time and sid, no nonce, at_hash of the new access token", async () => {
    const client = await oidcClient();
    const { browser } = await signedInOidc();
    const tokens = await codeFlow(client, browser);
    const original = (await verifyIdToken(tokens.id_token!, client.clientId)).payload;
    const refreshed = await expectOidcTokens(await refresh(client, tokens.refresh_token!));
    const { payload, protectedHeader } = await verifyIdToken(refreshed.id_token!, client.clientId);
    expect(protectedHeader.alg).toBe("RS256");
    expect(payload.iss).toBe(original.iss);
    expect(payload.sub).toBe(original.sub);
    expect(payload.aud).toBe(client.clientId);
    expect(payload.auth_time).toBe(original.auth_time);
    expect(payload.sid).toBe(original.sid);
    expect(payload.iat).toBeGreaterThanOrEqual(original.iat!);
    expect(payload.nonce).toBeUndefined();
    expect(payload.at_hash).toBe(await leftHalfSha256(refreshed.access_token));
  });

  it("refreshing without openid in the narrowed scope gives no ID token", async () => {
    const client = await oidcClient();
    const { browser } = await signedInOidc();
    const tokens = await codeFlow(client, browser, { scope: "openid read" });
    const refreshed: OidcTokens = await expectTokens(await refresh(client, tokens.refresh_token!, { scope: "read" }));
    expect(refreshed.id_token).toBeUndefined();
  });

  it("a client registered for ES256 gets ES256 ID tokens, verifiable with the published keys", async () => {
    const client = await oidcClient({ idTokenSignedResponseAlg: "ES256" });
    const { browser } = await signedInOidc();
    const tokens = await codeFlow(client, browser);
    const { payload, protectedHeader } = await verifyIdToken(tokens.id_token!, client.clientId);
    expect(protectedHeader.alg).toBe("ES256");
    expect(payload.at_hash).toBe(await leftHalfSha256(tokens.access_token));

    const front = redirectParams(await browser.get(authorizeUrl(oidcRequest(client.clientId, { response_type: "code id_token" }))));
    expect(decodeProtectedHeader(front.get("id_token")!).alg).toBe("ES256");
    expect((await verifyIdToken(front.get("id_token")!, client.clientId)).payload.c_hash).toBe(await leftHalfSha256(front.get("code")!));
  });

  it("a client registered for an algorithm with no key (PS256 here): a clean server_error, no token", async () => {
    const client = await oidcClient({ idTokenSignedResponseAlg: "PS256" });
    const { browser } = await signedInOidc();
    const code = redirectParams(await browser.get(authorizeUrl(oidcRequest(client.clientId)))).get("code")!;
    const res = await exchangeCode(client, code);
    expect(res.status).toBe(500);
    const body = await res.json<Record<string, string>>();
    expect(body.error).toBe("server_error");
    // The caller learns only that the server is misconfigured; the log and /healthz name the setting.
    expect(body.error_description).toBe("the server is misconfigured");
    expect(body).not.toHaveProperty("access_token");

    // The code was not spent: the same code fails the same way again, not with invalid_grant.
    const again = await exchangeCode(client, code);
    expect((await again.json<Record<string, string>>()).error).toBe("server_error");

    // In the front channel the redirect URI is trusted, so server_error goes to it (RFC 6749 §4.1.2.1).
    const front = redirectParams(await browser.get(authorizeUrl(oidcRequest(client.clientId, { response_type: "id_token" }))));
    expect(front.get("error")).toBe("server_error");
    expect(front.get("id_token")).toBeNull();
  });

  it("the published key set signs every ID token: none is unsigned", async () => {
    const keys = await (await SELF.fetch(`${ISSUER}/.well-known/jwks.json`)).json<{ keys: Record<string, unknown>[] }>();
    expect(keys.keys.map((k) => k.alg).sort()).toEqual(["ES256", "Ed25519", "EdDSA", "RS256"]);
    for (const key of keys.keys) {
      expect(key).not.toHaveProperty("d");
      expect(key.use).toBe("sig");
    }
    expect(typeof (await publishedKeys())).toBe("function");
  });
});

describe("claims parameter (OIDC Core §5.5)", () => {
  it("a userinfo member releases that claim at userinfo even with only the openid scope", async () => {
    const client = await oidcClient();
    const { browser, id } = await signedInOidc();
    const claims = JSON.stringify({ userinfo: { name: { essential: true } } });
    const tokens = await codeFlow(client, browser, { claims });
    const info = await userinfo(tokens.access_token);
    expect(info.status).toBe(200);
    expect(await info.json()).toEqual({ sub: id, name: "Jane Doe" });
    // Not in the ID token: it was asked for at userinfo only.
    expect((await verifyIdToken(tokens.id_token!, client.clientId)).payload.name).toBeUndefined();
  });

  it("an id_token member puts the claim in the ID token (and keeps it there after refresh), not at userinfo", async () => {
    const client = await oidcClient();
    const { browser, id, email } = await signedInOidc();
    const tokens = await codeFlow(client, browser, { claims: JSON.stringify({ id_token: { email: null } }) });
    expect((await verifyIdToken(tokens.id_token!, client.clientId)).payload.email).toBe(email);
    expect(await (await userinfo(tokens.access_token)).json()).toEqual({ sub: id });

    const refreshed = await expectOidcTokens(await refresh(client, tokens.refresh_token!));
    expect((await verifyIdToken(refreshed.id_token!, client.clientId)).payload.email).toBe(email);
  });

  it("an id_token member works in the implicit flow too", async () => {
    const { clientId } = await oidcClient();
    const { browser } = await signedInOidc();
    const claims = JSON.stringify({ id_token: { phone_number: { essential: true } } });
    const params = redirectParams(await browser.get(authorizeUrl(oidcRequest(clientId, { response_type: "id_token token", claims }))));
    expect((await verifyIdToken(params.get("id_token")!, clientId)).payload.phone_number).toBe(USER_CLAIMS.phone_number);
  });

  it("unknown claim names are ignored, and a claim the user lacks is left out (not null)", async () => {
    const client = await oidcClient();
    const { browser, id } = await signedInOidc("bare", {});
    const claims = JSON.stringify({ userinfo: { favourite_colour: null, name: null, email: { essential: true } } });
    const tokens = await codeFlow(client, browser, { claims });
    const body = await (await userinfo(tokens.access_token)).json<Record<string, unknown>>();
    expect(body.sub).toBe(id);
    expect(body).not.toHaveProperty("favourite_colour");
    expect(body).not.toHaveProperty("name");
    expect(body.email).toMatch(/@example\.com$/);
  });

  it("a sub value in the id_token member: only that user is answered for (login_required / the login page otherwise)", async () => {
    const client = await oidcClient();
    const { browser, id } = await signedInOidc();
    const other = await signedInOidc();
    const asking = (sub: string, prompt?: string) =>
      browser.get(authorizeUrl(oidcRequest(client.clientId, { claims: JSON.stringify({ id_token: { sub: { value: sub } } }), prompt })));

    const own = await asking(id, "none");
    expect(redirectParams(own).get("code")).toBeTruthy();
    const tokens = await expectOidcTokens(await exchangeCode(client, redirectParams(own).get("code")!));
    expect((await verifyIdToken(tokens.id_token, client.clientId)).payload.sub).toBe(id);

    const foreign = redirectParams(await asking(other.id, "none"));
    expect(foreign.get("error")).toBe("login_required");
    expect(foreign.get("code")).toBeNull();
    expect((await asking(other.id)).headers.get("location")).toMatch(/^\/o\/login\//);
  });

  for (const [label, claims] of [
    ["not JSON", "{userinfo:"],
    ["an array", "[]"],
    ["a string", '"name"'],
    ["a member that is not an object", '{"userinfo":"name"}'],
    ["a claim that is neither null nor an object", '{"id_token":{"email":true}}'],
    ["essential that is not a boolean", '{"id_token":{"email":{"essential":"yes"}}}'],
  ]) {
    it(`a claims parameter that is ${label}: invalid_request to the redirect URI`, async () => {
      const { clientId } = await oidcClient();
      const { browser } = await signedInOidc();
      const params = redirectParams(await browser.get(authorizeUrl(oidcRequest(clientId, { claims }))));
      expect(params.get("error")).toBe("invalid_request");
      expect(params.get("iss")).toBe(ISSUER);
      expect(params.get("state")).toBe("st-oidc");
    });
  }
});

describe("scope claims at userinfo (OIDC Core §5.4)", () => {
  it("openid alone: only sub", async () => {
    const client = await oidcClient();
    const { browser, id } = await signedInOidc();
    const tokens = await codeFlow(client, browser);
    expect(await (await userinfo(tokens.access_token)).json()).toEqual({ sub: id });
  });

  it("profile: the profile claims, and nothing of email, address or phone", async () => {
    const client = await oidcClient();
    const { browser, username } = await signedInOidc();
    const body = await (await userinfo((await codeFlow(client, browser, { scope: "openid profile" })).access_token)).json<Record<string, unknown>>();
    expect(body).toMatchObject({ name: "Jane Doe", given_name: "Jane", family_name: "Doe", preferred_username: username });
    expect(body.updated_at).toBeTypeOf("number");
    for (const absent of ["email", "email_verified", "address", "phone_number"]) expect(body).not.toHaveProperty(absent);
  });

  it("email: email and email_verified", async () => {
    const client = await oidcClient();
    const { browser, email, id } = await signedInOidc();
    const body = await (await userinfo((await codeFlow(client, browser, { scope: "openid email" })).access_token)).json();
    expect(body).toEqual({ sub: id, email, email_verified: false });
  });

  it("address: the address as a JSON object", async () => {
    const client = await oidcClient();
    const { browser, id } = await signedInOidc();
    const body = await (await userinfo((await codeFlow(client, browser, { scope: "openid address" })).access_token)).json();
    expect(body).toEqual({ sub: id, address: USER_CLAIMS.address });
  });

  it("phone: phone_number", async () => {
    const client = await oidcClient();
    const { browser, id } = await signedInOidc();
    const body = await (await userinfo((await codeFlow(client, browser, { scope: "openid phone" })).access_token)).json();
    expect(body).toEqual({ sub: id, phone_number: USER_CLAIMS.phone_number });
  });

  it("all four together, with a userinfo response of application/json", async () => {
    const client = await oidcClient();
    const { browser, email } = await signedInOidc();
    const tokens = await codeFlow(client, browser, { scope: "openid profile email address phone" });
    const res = await userinfo(tokens.access_token);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await res.json()).toMatchObject({ name: "Jane Doe", email, address: USER_CLAIMS.address, phone_number: USER_CLAIMS.phone_number });
  });
});
