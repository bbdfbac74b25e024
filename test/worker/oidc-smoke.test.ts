import { SELF } from "cloudflare:test";
import { createLocalJWKSet, decodeJwt, jwtVerify } from "jose";
import { describe, expect, it } from "vitest";
import { registerUser } from "../../src/db/registration";
import { Browser, hiddenFields, redirectParams } from "./support/browser";
import { basic, BASE, createClient, db, ISSUER, postToken } from "./support/helpers";

const REDIRECT = "https://rp.example.com/cb";

async function signedInBrowser(username: string) {
  const browser = new Browser();
  const res = await browser.login(username, "correct horse battery");
  expect(res.status).toBe(200);
  return browser;
}

describe("OpenID Connect smoke", () => {
  it("code flow: ID token with nonce and at_hash, userinfo, discovery", async () => {
    const username = `oidc${crypto.randomUUID().slice(0, 8)}`;
    await registerUser(db(), { username, password: "correct horse battery", email: "o@example.com", claims: { name: "Olga Idc" } });
    const { clientId, clientSecret } = await createClient({ grantTypes: ["authorization_code", "refresh_token"], redirectUris: [REDIRECT], skipAuthorization: true });
    const browser = await signedInBrowser(username);
    const q = new URLSearchParams({ response_type: "code", client_id: clientId, redirect_uri: REDIRECT, scope: "openid profile email", nonce: "n-0S6_WzA2Mj", state: "s" });
    const res = await browser.get(`/o/authorize/?${q}`);
    expect(res.status).toBe(303);
    const code = redirectParams(res).get("code")!;
    const token = await postToken({ grant_type: "authorization_code", code, redirect_uri: REDIRECT }, { authorization: basic(clientId, clientSecret) });
    const body = await token.json<Record<string, string>>();
    expect(body.id_token).toBeTruthy();
    const jwks = createLocalJWKSet(await (await SELF.fetch(`${ISSUER}/.well-known/jwks.json`)).json());
    const { payload, protectedHeader } = await jwtVerify(body.id_token!, jwks, { issuer: ISSUER, audience: clientId });
    expect(protectedHeader.alg).toBe("RS256");
    expect(payload.nonce).toBe("n-0S6_WzA2Mj");
    expect(payload.at_hash).toBeTruthy();
    expect(payload.auth_time).toBeTypeOf("number");

    const info = await SELF.fetch(`${ISSUER}/userinfo/`, { headers: { authorization: `Bearer ${body.access_token}` } });
    expect(info.status).toBe(200);
    expect(await info.json()).toMatchObject({ sub: payload.sub, name: "Olga Idc", email: "o@example.com", preferred_username: username });

    const config = await (await SELF.fetch(`${ISSUER}/.well-known/openid-configuration`)).json<Record<string, unknown>>();
    expect(config.issuer).toBe(ISSUER);
    const rfc8414 = await (await SELF.fetch(`${BASE}/.well-known/oauth-authorization-server/o`)).json<Record<string, unknown>>();
    expect(rfc8414.issuer).toBe(ISSUER);
    expect(decodeJwt(body.access_token!).sub).toBe(payload.sub);
  });

  it("hybrid code id_token: c_hash in the fragment's ID token", async () => {
    const username = `hyb${crypto.randomUUID().slice(0, 8)}`;
    await registerUser(db(), { username, password: "correct horse battery" });
    const { clientId } = await createClient({ grantTypes: ["authorization_code", "implicit"], redirectUris: [REDIRECT], skipAuthorization: true });
    const browser = await signedInBrowser(username);
    const q = new URLSearchParams({ response_type: "code id_token", client_id: clientId, redirect_uri: REDIRECT, scope: "openid", nonce: "abc" });
    const res = await browser.get(`/o/authorize/?${q}`);
    const params = redirectParams(res);
    expect(params.location.hash).toContain("id_token=");
    const idToken = decodeJwt(params.get("id_token")!);
    expect(idToken.c_hash).toBeTruthy();
    expect(idToken.nonce).toBe("abc");
    const noNonce = await browser.get(`/o/authorize/?${new URLSearchParams({ response_type: "code id_token", client_id: clientId, redirect_uri: REDIRECT, scope: "openid" })}`);
    expect(redirectParams(noNonce).get("error")).toBe("invalid_request");
  });

  it("prompt=login sends a signed-in user back to the login page once", async () => {
    const username = `pl${crypto.randomUUID().slice(0, 8)}`;
    await registerUser(db(), { username, password: "correct horse battery" });
    const { clientId } = await createClient({ grantTypes: ["authorization_code"], redirectUris: [REDIRECT], skipAuthorization: true });
    const browser = await signedInBrowser(username);
    const q = new URLSearchParams({ response_type: "code", client_id: clientId, redirect_uri: REDIRECT, scope: "openid", prompt: "login", code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", code_challenge_method: "S256" });
    const first = await browser.get(`/o/authorize/?${q}`);
    expect(first.headers.get("location")).toMatch(/^\/o\/login\//);
    // Following the login URL without signing in again does not satisfy prompt=login.
    const notAgain = await browser.get(decodeURIComponent(first.headers.get("location")!.split("next=")[1]!.split("&")[0]!));
    expect(notAgain.headers.get("location")).toMatch(/^\/o\/login\//);
    const page = await browser.get(first.headers.get("location")!);
    const login = await browser.post("/o/login/", { ...hiddenFields(await page.text()), username, password: "correct horse battery" });
    expect(login.status).toBe(303);
    const back = await browser.get(login.headers.get("location")!);
    expect(redirectParams(back).get("code")).toBeTruthy();
  });

  it("pairwise clients: the access token's sub is pairwise too, and hides the user id (RFC 9068 §6)", async () => {
    const username = `pw${crypto.randomUUID().slice(0, 8)}`;
    const user = await registerUser(db(), { username, password: "correct horse battery", claims: { name: "Pia Wise" } });
    const { clientId, clientSecret } = await createClient({
      grantTypes: ["authorization_code", "refresh_token"],
      redirectUris: [REDIRECT],
      skipAuthorization: true,
      subjectType: "pairwise",
    });
    const browser = await signedInBrowser(username);
    const q = new URLSearchParams({ response_type: "code", client_id: clientId, redirect_uri: REDIRECT, scope: "openid profile read" });
    const code = redirectParams(await browser.get(`/o/authorize/?${q}`)).get("code")!;
    const body = await (
      await postToken({ grant_type: "authorization_code", code, redirect_uri: REDIRECT }, { authorization: basic(clientId, clientSecret) })
    ).json<Record<string, string>>();
    const idSub = decodeJwt(body.id_token!).sub;
    const accessToken = body.access_token!;
    expect(idSub).not.toBe(user.id);
    expect(decodeJwt(accessToken).sub).toBe(idSub);
    expect(accessToken.split(".")[1]).not.toContain(btoa(user.id).slice(0, 20));
    expect(JSON.stringify(decodeJwt(accessToken))).not.toContain(user.id);

    const info = await SELF.fetch(`${ISSUER}/userinfo/`, { headers: { authorization: `Bearer ${accessToken}` } });
    expect(await info.json()).toMatchObject({ sub: idSub, name: "Pia Wise" });
    const introspected = await SELF.fetch(`${ISSUER}/introspect/`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(clientId, clientSecret) },
      body: new URLSearchParams({ token: accessToken }).toString(),
    });
    // OIDC Core §8.1: introspection too shows the pairwise sub, and neither the user id nor the username.
    const introspection = await introspected.text();
    expect(JSON.parse(introspection)).toMatchObject({ active: true, sub: idSub });
    expect(introspection).not.toContain(user.id);
    expect(introspection).not.toContain(username);
    const refreshed = await postToken({ grant_type: "refresh_token", refresh_token: body.refresh_token! }, { authorization: basic(clientId, clientSecret) });
    expect(decodeJwt((await refreshed.json<Record<string, string>>()).access_token!).sub).toBe(idSub);
  });

  it.each(["Ed25519", "EdDSA"] as const)("a client registered for %s gets Ed25519-signed ID tokens, with at_hash by SHA-512, that verify against the JWKS", async (alg) => {
    const username = `ed${crypto.randomUUID().slice(0, 8)}`;
    await registerUser(db(), { username, password: "correct horse battery" });
    const { clientId, clientSecret } = await createClient({
      grantTypes: ["authorization_code"],
      redirectUris: [REDIRECT],
      skipAuthorization: true,
      idTokenSignedResponseAlg: alg,
    });
    const browser = await signedInBrowser(username);
    const q = new URLSearchParams({ response_type: "code", client_id: clientId, redirect_uri: REDIRECT, scope: "openid", nonce: "ed" });
    const code = redirectParams(await browser.get(`/o/authorize/?${q}`)).get("code")!;
    const body = await (
      await postToken({ grant_type: "authorization_code", code, redirect_uri: REDIRECT }, { authorization: basic(clientId, clientSecret) })
    ).json<Record<string, string>>();
    const jwks = createLocalJWKSet(await (await SELF.fetch(`${ISSUER}/.well-known/jwks.json`)).json());
    const { payload, protectedHeader } = await jwtVerify(body.id_token!, jwks, { issuer: ISSUER, audience: clientId });
    expect(protectedHeader.alg).toBe(alg);
    expect(payload.nonce).toBe("ed");
    // OIDC Core §3.3.2.11: the left half of SHA-512 of the access token (Ed25519 signs with SHA-512).
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-512", new TextEncoder().encode(body.access_token!)));
    expect(payload.at_hash).toBe(btoa(String.fromCharCode(...digest.slice(0, 32))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, ""));
  });
});
