/**
 * A client that registers itself (RFC 7591) with openid-client v6's `dynamicClientRegistration`,
 * against `wrangler dev` with DYNAMIC_REGISTRATION=open, then uses what it got: authorization code
 * + PKCE + nonce as a public client and as a confidential one (client_secret_post). The only option
 * relaxed is `allowInsecureRequests` (plain http to the loopback server). The admin CLI sees the
 * registered client; RFC 7592's DELETE ends it.
 */
import * as client from "openid-client";
import { describe, expect, it } from "vitest";
import { useServer } from "./support/server";
import { authorizeInteractively, UserAgent } from "./support/user-agent";

const server = useServer({ vars: { DYNAMIC_REGISTRATION: "open" } });

const REDIRECT = "http://127.0.0.1:9/cb";
const insecure = { execute: [client.allowInsecureRequests] };

describe("openid-client dynamic client registration", () => {
  it("discovery names the registration endpoint", async () => {
    const config = await client.discovery(new URL(server().issuer), "any", undefined, client.None(), insecure);
    expect(config.serverMetadata().registration_endpoint).toBe(`${server().issuer}/register/`);
  });

  it("a public client registers, then completes authorization code + PKCE + nonce and refreshes", async () => {
    const config = await client.dynamicClientRegistration(
      new URL(server().issuer),
      {
        client_name: "openid-client DCR",
        redirect_uris: [REDIRECT],
        grant_types: ["authorization_code", "refresh_token"],
        response_types: ["code"],
        token_endpoint_auth_method: "none",
        scope: "openid profile email read",
      },
      client.None(),
      insecure,
    );
    const registered = config.clientMetadata();
    expect(registered).toMatchObject({
      client_id: expect.stringMatching(/^[A-Za-z0-9]{32}$/),
      token_endpoint_auth_method: "none",
      redirect_uris: [REDIRECT],
      registration_client_uri: `${server().issuer}/register/${registered.client_id}`,
    });
    expect(registered.client_secret).toBeUndefined();

    const user = await server().createUser("dcr", "dcr@example.com");
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope: "openid profile email read",
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      state,
      nonce,
    });
    const { callback, sawConsent } = await authorizeInteractively(new UserAgent(), url, user);
    // A self-registered client never skips consent.
    expect(sawConsent).toBe(true);
    const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true });
    expect(tokens.claims()).toMatchObject({ iss: server().issuer, sub: user.id, aud: registered.client_id });
    const info = await client.fetchUserInfo(config, tokens.access_token, user.id);
    expect(info).toMatchObject({ sub: user.id, email: "dcr@example.com" });

    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.access_token).not.toBe(tokens.access_token);
  });

  it("a confidential client registers with client_secret_post, signs a user in; the CLI lists it; RFC 7592 DELETE ends it", async () => {
    const config = await client.dynamicClientRegistration(
      new URL(server().issuer),
      {
        client_name: "openid-client web app",
        redirect_uris: [REDIRECT],
        grant_types: ["authorization_code", "refresh_token"],
        token_endpoint_auth_method: "client_secret_post",
        scope: "openid read",
      },
      undefined, // client_secret_post with the secret the server issued
      insecure,
    );
    const registered = config.clientMetadata();
    expect(registered.client_secret).toEqual(expect.any(String));
    expect(registered.client_secret_expires_at).toBe(0);

    const user = await server().createUser("dcrweb");
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope: "openid read",
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      state,
    });
    const { callback } = await authorizeInteractively(new UserAgent(), url, user);
    const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state, idTokenExpected: true });
    const api = await client.fetchProtectedResource(config, tokens.access_token, new URL(`${server().base}/api/me`), "GET");
    expect(await api.json()).toMatchObject({ client_id: registered.client_id });

    const listed = await server().admin<{ client_id: string; source: string }[]>(["client", "list"]);
    expect(listed).toContainEqual(expect.objectContaining({ client_id: registered.client_id, source: "registration" }));

    const manage = (method: string) =>
      fetch(registered.registration_client_uri as string, { method, headers: { authorization: `Bearer ${registered.registration_access_token as string}` } });
    const read = await manage("GET");
    expect(read.status).toBe(200);
    expect(await read.json()).toMatchObject({ client_id: registered.client_id, client_name: "openid-client web app" });
    expect((await manage("DELETE")).status).toBe(204);
    expect((await manage("GET")).status).toBe(401);

    // Its secret no longer authenticates: the 401 carries a Basic challenge, which openid-client
    // reports as such; the body says invalid_client.
    const refused = await client.refreshTokenGrant(config, tokens.refresh_token!).then(
      () => undefined,
      (error: unknown) => error as client.WWWAuthenticateChallengeError,
    );
    expect(refused).toMatchObject({ name: "WWWAuthenticateChallengeError", status: 401 });
    expect(await refused!.response.json()).toMatchObject({ error: "invalid_client" });
    // Its access tokens are refused too (the client's revocation note).
    const after = await fetch(`${server().base}/api/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(after.status).toBe(401);
  });

  it("open registration refuses client_credentials (tokens without a user need an initial access token)", async () => {
    const refused = await client
      .dynamicClientRegistration(
        new URL(server().issuer),
        { client_name: "anonymous service", grant_types: ["client_credentials"], response_types: [], token_endpoint_auth_method: "client_secret_basic" },
        undefined,
        insecure,
      )
      .then(
        () => undefined,
        (error: unknown) => error as client.ResponseBodyError,
      );
    expect(refused).toMatchObject({ error: "invalid_client_metadata", status: 400 });
  });
});
