/**
 * Interoperability with openid-client v6 (the certified Relying Party library), against
 * `wrangler dev`. The only option relaxed is `allowInsecureRequests`: plain http to the loopback
 * server. State, nonce, PKCE, `iss` (RFC 9207) and the ID token are all checked by the library.
 */
import * as client from "openid-client";
import { beforeAll, describe, expect, it } from "vitest";
import { useServer, type CreatedClient } from "./support/server";
import { authorizeInteractively, parseForms, UserAgent } from "./support/user-agent";

const server = useServer();

const REDIRECT = "http://127.0.0.1:9/cb";
const POST_LOGOUT = "http://127.0.0.1:9/signed-out";

let registered: CreatedClient;
let config: client.Configuration;

beforeAll(async () => {
  registered = await server().createClient({
    name: "openid-client app",
    type: "confidential",
    grantTypes: ["authorization_code", "refresh_token", "client_credentials"],
    redirectUris: [REDIRECT],
    postLogoutRedirectUris: [POST_LOGOUT],
    scope: "read write",
  });
  config = await client.discovery(
    new URL(server().issuer),
    registered.client_id,
    undefined,
    client.ClientSecretBasic(registered.client_secret!),
    // http on loopback only: openid-client refuses http:// otherwise. Nothing else is relaxed.
    { execute: [client.allowInsecureRequests] },
  );
});

/** Authorization code + PKCE + nonce + state, driven over HTTP; the library redeems and validates. */
async function signIn(scope = "openid profile email read") {
  const user = await server().createUser("oc", "oc@example.com");
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT,
    scope,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state,
    nonce,
  });
  const agent = new UserAgent();
  const { callback, sawLogin, sawConsent } = await authorizeInteractively(agent, url, user);
  expect({ sawLogin, sawConsent }).toEqual({ sawLogin: true, sawConsent: true });
  const tokens = await client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  return { user, agent, tokens, claims: tokens.claims()! };
}

describe("openid-client", () => {
  it("discovery", () => {
    const metadata = config.serverMetadata();
    expect(metadata.issuer).toBe(server().issuer);
    expect(metadata.supportsPKCE()).toBe(true);
    expect(metadata.end_session_endpoint).toBe(`${server().issuer}/logout/`);
  });

  it("authorization code grant: ID token, nonce, state and iss validated; then userinfo", async () => {
    const { user, tokens, claims } = await signIn();
    expect(claims).toMatchObject({ iss: server().issuer, sub: user.id, aud: registered.client_id });
    expect(tokens.expiresIn()).toBeGreaterThan(0);
    const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    expect(info).toMatchObject({ sub: user.id, email: "oc@example.com", preferred_username: user.username });
  });

  it("refresh token grant", async () => {
    const { tokens, claims } = await signIn();
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.access_token).not.toBe(tokens.access_token);
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    expect(refreshed.claims()).toMatchObject({ sub: claims.sub, auth_time: claims.auth_time });
    // The rotated-away refresh token is no longer valid (no grace period by default).
    await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: "invalid_grant" });
  });

  it("client credentials grant", async () => {
    const tokens = await client.clientCredentialsGrant(config, { scope: "read write" });
    expect(tokens.scope).toBe("read write");
    const res = await client.fetchProtectedResource(config, tokens.access_token, new URL(`${server().base}/api/me`), "GET");
    expect(await res.json()).toMatchObject({ client_id: registered.client_id, scope: "read write" });
  });

  it("introspection and revocation", async () => {
    const { user, tokens } = await signIn("openid read");
    expect(await client.tokenIntrospection(config, tokens.access_token)).toMatchObject({
      active: true,
      sub: user.id,
      client_id: registered.client_id,
      scope: "openid read",
    });
    await client.tokenRevocation(config, tokens.access_token, { token_type_hint: "access_token" });
    expect(await client.tokenIntrospection(config, tokens.access_token)).toEqual({ active: false });
    // Revoking the refresh token revokes its family; an unknown token is still a success (RFC 7009 §2.2).
    await client.tokenRevocation(config, tokens.refresh_token!);
    expect(await client.tokenIntrospection(config, tokens.refresh_token!)).toEqual({ active: false });
    await client.tokenRevocation(config, "not-a-token-we-issued");
  });

  it("end session URL: the logout confirmation page, then signing out ends the session", async () => {
    const { agent, tokens } = await signIn("openid");
    const endSession = client.buildEndSessionUrl(config, {
      post_logout_redirect_uri: POST_LOGOUT,
      id_token_hint: tokens.id_token!,
      state: "bye",
    });
    expect(endSession.origin + endSession.pathname).toBe(`${server().issuer}/logout/`);
    expect(endSession.searchParams.get("client_id")).toBe(registered.client_id);

    const confirm = await agent.fetch(endSession);
    expect(confirm.status).toBe(200);
    const html = await confirm.text();
    const [form] = parseForms(html);
    expect(form).toMatchObject({ method: "post", buttons: { logout: "yes" } });

    const done = await agent.submit(endSession, form!, { logout: "yes" }, { res: confirm, html });
    // Either the signed-out page, or (once RP-initiated logout redirects) the registered URI with state.
    if (done.status === 303) {
      const location = new URL(done.headers.get("location")!);
      expect(`${location.origin}${location.pathname}`).toBe(POST_LOGOUT);
      expect(location.searchParams.get("state")).toBe("bye");
    } else {
      expect(done.status).toBe(200);
      expect(await done.text()).toMatch(/signed out/i);
    }

    // Signed out: a new authorization request goes to the login page again.
    const again = await agent.fetch(client.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: "openid", nonce: client.randomNonce(), state: client.randomState() }));
    expect(again.status).toBe(303);
    expect(new URL(again.headers.get("location")!, server().base).pathname).toBe("/o/login/");
  });
});
