/**
 * Interoperability with oauth4webapi (panva's certified low-level client), against `wrangler dev`.
 * Every check of the library stays on; the one option used, `allowInsecureRequests`, only lets
 * it speak plain http to the loopback server (it insists on https otherwise).
 */
import * as oauth from "oauth4webapi";
import { beforeAll, describe, expect, it } from "vitest";
import { useServer, type CreatedClient } from "./support/server";
import { authorizeInteractively, UserAgent } from "./support/user-agent";

const server = useServer();

// http on loopback only: oauth4webapi refuses http:// endpoints unless told; nothing else relaxed.
const http = { [oauth.allowInsecureRequests]: true } as const;

/** A loopback redirect URI (RFC 8252 §7.3): nothing listens there; the test reads the redirect itself. */
const REDIRECT = "http://127.0.0.1:9/callback";

let as: oauth.AuthorizationServer;
let web: CreatedClient;
let hybrid: CreatedClient;

beforeAll(async () => {
  [web, hybrid] = await Promise.all([
    server().createClient({
      name: "oauth4webapi web app",
      type: "confidential",
      grantTypes: ["authorization_code", "refresh_token", "client_credentials"],
      redirectUris: [REDIRECT],
      scope: "read write",
    }),
    server().createClient({
      name: "oauth4webapi hybrid app",
      type: "confidential",
      grantTypes: ["authorization_code", "implicit"],
      redirectUris: [REDIRECT],
      scope: "read",
      authMethod: "client_secret_post",
    }),
  ]);
  const issuer = new URL(server().issuer);
  as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: "oidc", ...http }));
});

const webClient = (): oauth.Client => ({ client_id: web.client_id });
const webAuth = () => oauth.ClientSecretBasic(web.client_secret!);

interface CodeFlow {
  user: { id: string; username: string };
  tokens: oauth.TokenEndpointResponse;
  idToken: oauth.IDToken;
  tokenResponse: Response;
}

/** Authorization code + PKCE (S256) + nonce, signing in and consenting over HTTP. */
async function codeFlow(scope = "openid profile email read"): Promise<CodeFlow> {
  const user = await server().createUser("o4w", "o4w@example.com");
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const nonce = oauth.generateRandomNonce();
  const url = new URL(as.authorization_endpoint!);
  url.search = new URLSearchParams({
    client_id: web.client_id,
    redirect_uri: REDIRECT,
    response_type: "code",
    scope,
    state,
    nonce,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
  }).toString();

  const { callback, sawLogin, sawConsent } = await authorizeInteractively(new UserAgent(), url, user);
  expect({ sawLogin, sawConsent }).toEqual({ sawLogin: true, sawConsent: true });
  expect(`${callback.origin}${callback.pathname}`).toBe(REDIRECT);

  // Checks state, and iss against the discovered issuer (RFC 9207; the metadata announces it).
  const params = oauth.validateAuthResponse(as, webClient(), callback, state);
  const tokenResponse = await oauth.authorizationCodeGrantRequest(as, webClient(), webAuth(), params, REDIRECT, verifier, http);
  const tokens = await oauth.processAuthorizationCodeResponse(as, webClient(), tokenResponse, {
    expectedNonce: nonce,
    requireIdToken: true,
  });
  const idToken = oauth.getValidatedIdTokenClaims(tokens)!;
  return { user, tokens, idToken, tokenResponse };
}

const apiMe = (accessToken: string) =>
  fetch(`${server().base}/api/me`, { headers: { authorization: `Bearer ${accessToken}` } });

describe("oauth4webapi", () => {
  it("discovers the issuer (OpenID Connect Discovery and RFC 8414 path-suffixed metadata)", async () => {
    expect(as.issuer).toBe(server().issuer);
    expect(as.authorization_response_iss_parameter_supported).toBe(true);
    expect(as.code_challenge_methods_supported).toEqual(["S256"]);
    const issuer = new URL(server().issuer);
    // RFC 8414 §3.1: /.well-known/oauth-authorization-server/o for the issuer http://host/o.
    const oauth2 = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: "oauth2", ...http }));
    expect(oauth2.token_endpoint).toBe(as.token_endpoint);
  });

  it("authorization code + PKCE with an ID token the library validates (and whose signature verifies)", async () => {
    const { user, tokens, idToken, tokenResponse } = await codeFlow();
    expect(tokens.token_type.toLowerCase()).toBe("bearer");
    expect(tokens.scope?.split(" ").sort()).toEqual(["email", "openid", "profile", "read"]);
    expect(idToken).toMatchObject({ iss: server().issuer, aud: web.client_id, sub: user.id });
    expect(typeof idToken.auth_time).toBe("number");
    // Non-repudiation: the ID token's signature against the JWKS (not required over TLS, but checked here).
    await oauth.validateApplicationLevelSignature(as, tokenResponse, http);

    const me = await apiMe(tokens.access_token);
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ sub: user.id, client_id: web.client_id });
  });

  it("userinfo: the subject matches the ID token's", async () => {
    const { user, tokens, idToken } = await codeFlow();
    const res = await oauth.userInfoRequest(as, webClient(), tokens.access_token, http);
    const info = await oauth.processUserInfoResponse(as, webClient(), idToken.sub, res);
    expect(info).toMatchObject({ sub: user.id, email: "o4w@example.com", preferred_username: user.username });
  });

  it("the access token is an RFC 9068 JWT that validateJwtAccessToken accepts", async () => {
    const { user, tokens } = await codeFlow("openid read");
    const request = new Request(`${server().base}/api/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    // The default audience of access tokens is the server's origin (ACCESS_TOKEN_AUDIENCE unset).
    const claims = await oauth.validateJwtAccessToken(as, request, server().base, http);
    expect(claims).toMatchObject({ iss: server().issuer, sub: user.id, client_id: web.client_id, scope: "openid read" });
  });

  it("refresh_token grant rotates the refresh token", async () => {
    const { tokens, idToken } = await codeFlow();
    expect(tokens.refresh_token).toBeTruthy();
    const res = await oauth.refreshTokenGrantRequest(as, webClient(), webAuth(), tokens.refresh_token!, http);
    const refreshed = await oauth.processRefreshTokenResponse(as, webClient(), res);
    expect(refreshed.access_token).not.toBe(tokens.access_token);
    expect(refreshed.refresh_token).toBeTruthy();
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    // OIDC Core §12.2: a new ID token for the same subject and original auth_time, without nonce.
    const refreshedIdToken = oauth.getValidatedIdTokenClaims(refreshed)!;
    expect(refreshedIdToken).toMatchObject({ sub: idToken.sub, aud: idToken.aud, auth_time: idToken.auth_time });
    expect(refreshedIdToken.nonce).toBeUndefined();
    expect((await apiMe(refreshed.access_token)).status).toBe(200);
  });

  it("client_credentials grant", async () => {
    const res = await oauth.clientCredentialsGrantRequest(as, webClient(), webAuth(), { scope: "read" }, http);
    const tokens = await oauth.processClientCredentialsResponse(as, webClient(), res);
    expect(tokens).toMatchObject({ scope: "read", expires_in: expect.any(Number) });
    expect(tokens.refresh_token).toBeUndefined();
    const me = await apiMe(tokens.access_token);
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ client_id: web.client_id });
  });

  it("introspection, then revocation: inactive afterwards, and the API refuses the token", async () => {
    const { user, tokens } = await codeFlow("openid read");
    const introspect = async (token: string) =>
      oauth.processIntrospectionResponse(as, webClient(), await oauth.introspectionRequest(as, webClient(), webAuth(), token, http));

    const active = await introspect(tokens.access_token);
    expect(active).toMatchObject({ active: true, client_id: web.client_id, sub: user.id, username: user.username, scope: "openid read" });
    const refresh = await introspect(tokens.refresh_token!);
    expect(refresh).toMatchObject({ active: true, client_id: web.client_id, token_type: "refresh_token" });

    await oauth.processRevocationResponse(
      await oauth.revocationRequest(as, webClient(), webAuth(), tokens.access_token, { ...http, additionalParameters: { token_type_hint: "access_token" } }),
    );
    expect(await introspect(tokens.access_token)).toEqual({ active: false });
    const me = await apiMe(tokens.access_token);
    expect(me.status).toBe(401);
    expect(me.headers.get("www-authenticate")).toMatch(/^Bearer .*error="invalid_token"/);

    // Revoking the refresh token ends its whole grant.
    await oauth.processRevocationResponse(await oauth.revocationRequest(as, webClient(), webAuth(), tokens.refresh_token!, http));
    expect(await introspect(tokens.refresh_token!)).toEqual({ active: false });
  });

  it("hybrid code id_token (fragment): the front-channel ID token's signature, c_hash and nonce validate", async () => {
    const user = await server().createUser("hybrid");
    const client: oauth.Client = { client_id: hybrid.client_id };
    const auth = oauth.ClientSecretPost(hybrid.client_secret!);
    const state = oauth.generateRandomState();
    const nonce = oauth.generateRandomNonce();
    const url = new URL(as.authorization_endpoint!);
    url.search = new URLSearchParams({
      client_id: hybrid.client_id,
      redirect_uri: REDIRECT,
      response_type: "code id_token",
      response_mode: "fragment",
      scope: "openid read",
      state,
      nonce,
    }).toString();
    const { callback } = await authorizeInteractively(new UserAgent(), url, user);
    expect(callback.search).toBe("");
    expect(new URLSearchParams(callback.hash.slice(1)).get("iss")).toBe(server().issuer);

    // OIDC Core §3.3.2.12: fetches the JWKS, checks the signature, c_hash, nonce, aud, iss.
    // (Not validateDetachedSignatureResponse: that is FAPI 1.0 Advanced §5.2.2.1, which also
    // requires s_hash, a claim OIDC Core does not define and this server does not issue.)
    const params = await oauth.validateCodeIdTokenResponse(as, client, callback, nonce, state, undefined, http);
    const res = await oauth.authorizationCodeGrantRequest(as, client, auth, params, REDIRECT, oauth.nopkce, http);
    const tokens = await oauth.processAuthorizationCodeResponse(as, client, res, { expectedNonce: nonce, requireIdToken: true });
    expect(oauth.getValidatedIdTokenClaims(tokens)).toMatchObject({ sub: user.id, aud: hybrid.client_id });
  });
});
