import { describe, expect, it } from "vitest";
import { hiddenFields, redirectParams } from "./support/browser";
import { createClient, ISSUER } from "./support/helpers";
import { authorizeUrl, exchangeCode, expectTokenError, expectTokens, REDIRECT, signedIn } from "./support/flow";
import {
  expectOidcTokens,
  leftHalfSha256,
  NONCE,
  oidcClient,
  oidcRequest,
  signedInOidc,
  userinfo,
  verifyIdToken,
  type OidcTokens,
} from "./support/oidc-helpers";

/**
 * OIDC Core §3 (code, implicit, hybrid flows), OAuth 2.0 Multiple Response Types (where each
 * parameter comes back), Form Post Response Mode, and RFC 9207 `iss` in every response.
 */

const FRONT_CHANNEL = ["code", "access_token", "token_type", "expires_in", "scope", "id_token"] as const;

/** What each response type returns, per Multiple Response Types §3–5 and OIDC Core §3.3.2.5. */
const CASES: { type: string; returns: (typeof FRONT_CHANNEL)[number][] }[] = [
  { type: "code", returns: ["code"] },
  { type: "id_token", returns: ["id_token"] },
  { type: "id_token token", returns: ["access_token", "token_type", "expires_in", "scope", "id_token"] },
  { type: "code id_token", returns: ["code", "id_token"] },
  { type: "code token", returns: ["code", "access_token", "token_type", "expires_in", "scope"] },
  { type: "code id_token token", returns: ["code", "access_token", "token_type", "expires_in", "scope", "id_token"] },
];

describe("response types", () => {
  for (const { type, returns } of CASES) {
    it(`${type}: exactly its parameters, in the ${type === "code" ? "query" : "fragment"}, with iss and state`, async () => {
      const { clientId } = await oidcClient();
      const { browser, id } = await signedInOidc();
      const res = await browser.get(authorizeUrl(oidcRequest(clientId, { response_type: type, scope: "openid profile", state: "s t&ate" })));
      expect(res.status).toBe(303);
      expect(res.headers.get("cache-control")).toBe("no-store");
      const params = redirectParams(res);
      expect(`${params.location.origin}${params.location.pathname}`).toBe(REDIRECT);
      if (type === "code") expect(params.location.hash).toBe("");
      else expect(params.location.search).toBe("");
      expect(params.get("iss")).toBe(ISSUER);
      expect(params.get("state")).toBe("s t&ate");
      for (const name of FRONT_CHANNEL) expect(params.has(name), name).toBe(returns.includes(name));
      expect(params.get("refresh_token")).toBeNull();
      if (params.has("token_type")) expect(params.get("token_type")).toBe("Bearer");

      const idToken = params.get("id_token");
      if (idToken) {
        const { payload } = await verifyIdToken(idToken, clientId);
        expect(payload.sub).toBe(id);
        expect(payload.nonce).toBe(NONCE);
        // OIDC Core §3.3.2.11: c_hash with a code, at_hash with an access token (§3.2.2.10).
        if (params.has("code")) expect(payload.c_hash).toBe(await leftHalfSha256(params.get("code")!));
        else expect(payload.c_hash).toBeUndefined();
        if (params.has("access_token")) expect(payload.at_hash).toBe(await leftHalfSha256(params.get("access_token")!));
        else expect(payload.at_hash).toBeUndefined();
      }
      const accessToken = params.get("access_token");
      if (accessToken) expect((await userinfo(accessToken)).status).toBe(200);
    });
  }

  it("id_token alone carries the scope claims in the ID token, since no access token can fetch them (OIDC Core §5.4)", async () => {
    const { clientId } = await oidcClient();
    const { browser, email } = await signedInOidc();
    const res = await browser.get(authorizeUrl(oidcRequest(clientId, { response_type: "id_token", scope: "openid profile email" })));
    const { payload } = await verifyIdToken(redirectParams(res).get("id_token")!, clientId);
    expect(payload).toMatchObject({ name: "Jane Doe", given_name: "Jane", email });
  });

  it("id_token token keeps the scope claims out of the ID token (the RP reads them at userinfo)", async () => {
    const { clientId } = await oidcClient();
    const { browser } = await signedInOidc();
    const res = await browser.get(authorizeUrl(oidcRequest(clientId, { response_type: "id_token token", scope: "openid profile" })));
    const params = redirectParams(res);
    const { payload } = await verifyIdToken(params.get("id_token")!, clientId);
    expect(payload.name).toBeUndefined();
    expect(await (await userinfo(params.get("access_token")!)).json()).toMatchObject({ name: "Jane Doe" });
  });

  it("hybrid: the ID token of the token endpoint has the same iss and sub as the front-channel one (OIDC Core §3.3.3.6)", async () => {
    const client = await oidcClient();
    const { browser } = await signedInOidc();
    const res = await browser.get(authorizeUrl(oidcRequest(client.clientId, { response_type: "code id_token" })));
    const params = redirectParams(res);
    const front = (await verifyIdToken(params.get("id_token")!, client.clientId)).payload;
    const tokens = await expectOidcTokens(await exchangeCode(client, params.get("code")!));
    const back = (await verifyIdToken(tokens.id_token!, client.clientId)).payload;
    expect(back.iss).toBe(front.iss);
    expect(back.sub).toBe(front.sub);
    expect(back.nonce).toBe(NONCE);
    expect(back.at_hash).toBe(await leftHalfSha256(tokens.access_token));
  });

  for (const type of ["id_token", "id_token token", "code id_token", "code token", "code id_token token"]) {
    it(`${type}: nonce is required (invalid_request, in the fragment)`, async () => {
      const { clientId } = await oidcClient();
      const { browser } = await signedInOidc();
      const res = await browser.get(authorizeUrl(oidcRequest(clientId, { response_type: type, nonce: undefined })));
      expect(res.status).toBe(303);
      const params = redirectParams(res);
      expect(params.location.hash).not.toBe("");
      expect(params.get("error")).toBe("invalid_request");
      expect(params.get("state")).toBe("st-oidc");
      expect(params.get("iss")).toBe(ISSUER);
      expect(params.get("code")).toBeNull();
      expect(params.get("id_token")).toBeNull();
    });
  }

  it("code: nonce is optional", async () => {
    const { clientId } = await oidcClient();
    const { browser } = await signedInOidc();
    const res = await browser.get(authorizeUrl(oidcRequest(clientId, { nonce: undefined })));
    expect(redirectParams(res).get("code")).toBeTruthy();
  });

  for (const type of ["id_token", "code id_token", "id_token token"]) {
    it(`${type} without the openid scope: invalid_request`, async () => {
      const { clientId } = await oidcClient({ scope: "read" });
      const { browser } = await signedInOidc();
      const res = await browser.get(authorizeUrl(oidcRequest(clientId, { response_type: type, scope: "read" })));
      const params = redirectParams(res);
      expect(params.get("error")).toBe("invalid_request");
      expect(params.get("iss")).toBe(ISSUER);
    });
  }

  it("a client without the implicit grant may not use front-channel tokens: unauthorized_client", async () => {
    const { clientId } = await oidcClient({ grantTypes: ["authorization_code"] });
    const { browser } = await signedInOidc();
    for (const type of ["id_token", "code id_token", "code token"]) {
      const params = redirectParams(await browser.get(authorizeUrl(oidcRequest(clientId, { response_type: type }))));
      expect(params.get("error"), type).toBe("unauthorized_client");
    }
  });

  it("an implicit-only client may not use code: unauthorized_client", async () => {
    const { clientId } = await oidcClient({ grantTypes: ["implicit"] });
    const { browser } = await signedInOidc();
    const params = redirectParams(await browser.get(authorizeUrl(oidcRequest(clientId, { response_type: "code id_token" }))));
    expect(params.get("error")).toBe("unauthorized_client");
  });

  it("response_mode=query is refused for token-bearing types, and the error goes in the fragment", async () => {
    const { clientId } = await oidcClient();
    const { browser } = await signedInOidc();
    const res = await browser.get(authorizeUrl(oidcRequest(clientId, { response_type: "code id_token", response_mode: "query" })));
    const params = redirectParams(res);
    expect(params.location.search).toBe("");
    expect(params.get("error")).toBe("invalid_request");
    expect(params.get("iss")).toBe(ISSUER);
  });

  it("response_mode=fragment for code puts the code in the fragment", async () => {
    const { clientId } = await oidcClient();
    const { browser } = await signedInOidc();
    const params = redirectParams(await browser.get(authorizeUrl(oidcRequest(clientId, { response_mode: "fragment" }))));
    expect(params.location.hash).toContain("code=");
    expect(params.get("iss")).toBe(ISSUER);
  });
});

describe("response_mode=form_post", () => {
  for (const type of ["code", "code id_token", "id_token token"]) {
    it(`${type}: an auto-submitting form to the redirect URI with the response fields, iss and state`, async () => {
      const { clientId } = await oidcClient();
      const { browser } = await signedInOidc();
      const res = await browser.get(authorizeUrl(oidcRequest(clientId, { response_type: type, response_mode: "form_post" })));
      expect(res.status).toBe(200);
      expect(res.headers.get("location")).toBeNull();
      expect(res.headers.get("cache-control")).toBe("no-store");
      const html = await res.text();
      expect(html).toContain(`action="${REDIRECT}"`);
      expect(html).toMatch(/method="post"/i);
      const fields = hiddenFields(html);
      expect(fields.iss).toBe(ISSUER);
      expect(fields.state).toBe("st-oidc");
      expect(!!fields.code).toBe(type.includes("code"));
      expect(!!fields.id_token).toBe(type.includes("id_token"));
      expect(!!fields.access_token).toBe(type.includes("token") && type !== "code id_token");
      if (fields.id_token) expect((await verifyIdToken(fields.id_token, clientId)).payload.nonce).toBe(NONCE);
    });
  }

  it("errors are form-posted too", async () => {
    const { clientId } = await oidcClient();
    const { browser } = await signedInOidc();
    const res = await browser.get(authorizeUrl(oidcRequest(clientId, { response_type: "code id_token", response_mode: "form_post", nonce: undefined })));
    expect(res.status).toBe(200);
    const fields = hiddenFields(await res.text());
    expect(fields).toMatchObject({ error: "invalid_request", state: "st-oidc", iss: ISSUER });
  });
});

describe("nonce and code replay", () => {
  it("two authorizations with the same nonce each carry it: the RP, not the server, detects the replay", async () => {
    const { clientId } = await oidcClient();
    const { browser } = await signedInOidc();
    const nonces: unknown[] = [];
    for (let i = 0; i < 2; i++) {
      const params = redirectParams(await browser.get(authorizeUrl(oidcRequest(clientId, { response_type: "id_token" }))));
      nonces.push((await verifyIdToken(params.get("id_token")!, clientId)).payload.nonce);
    }
    expect(nonces).toEqual([NONCE, NONCE]);
  });

  it("a code is redeemed once; the second exchange is invalid_grant and carries no ID token", async () => {
    const client = await oidcClient();
    const { browser } = await signedInOidc();
    const code = redirectParams(await browser.get(authorizeUrl(oidcRequest(client.clientId)))).get("code")!;
    const first = await expectOidcTokens(await exchangeCode(client, code));
    expect(first.id_token).toBeTruthy();
    const body = await expectTokenError(await exchangeCode(client, code), "invalid_grant");
    expect(body).not.toHaveProperty("id_token");
  });

  it("the code of a hybrid response cannot be redeemed by another client", async () => {
    const client = await oidcClient();
    const other = await oidcClient();
    const { browser } = await signedIn();
    const code = redirectParams(await browser.get(authorizeUrl(oidcRequest(client.clientId, { response_type: "code id_token" })))).get("code")!;
    await expectTokenError(await exchangeCode(other, code), "invalid_grant");
  });
});

it("a client may still use plain OAuth: scope without openid gives no ID token", async () => {
  const client = await createClient({ grantTypes: ["authorization_code"], redirectUris: [REDIRECT], skipAuthorization: true });
  const { browser } = await signedIn();
  const code = redirectParams(await browser.get(authorizeUrl(oidcRequest(client.clientId, { scope: "read" })))).get("code")!;
  const tokens: OidcTokens = await expectTokens(await exchangeCode(client, code));
  expect(tokens.id_token).toBeUndefined();
});
