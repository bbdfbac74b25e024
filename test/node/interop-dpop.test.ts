/**
 * Interoperability of DPoP (RFC 9449) with oauth4webapi, a client library written elsewhere,
 * against `wrangler dev` with server nonces on (DPOP_NONCE): the library's DPoP handle signs the
 * proofs, learns the nonce from `use_dpop_nonce` and retries as its documentation says. Its checks
 * all stay on; `allowInsecureRequests` only lets it speak http to the loopback server.
 */
import { generateKeyPair } from "jose";
import * as oauth from "oauth4webapi";
import { beforeAll, describe, expect, it } from "vitest";
import { useServer, type CreatedClient } from "./support/server";
import { authorizeInteractively, UserAgent } from "./support/user-agent";

const server = useServer({ vars: { DPOP_NONCE: "true" } });

const http = { [oauth.allowInsecureRequests]: true } as const;
const REDIRECT = "http://127.0.0.1:9/callback";

let as: oauth.AuthorizationServer;
let machine: CreatedClient & { dpop_bound_access_tokens?: boolean };
let spa: CreatedClient;

beforeAll(async () => {
  [machine, spa] = await Promise.all([
    server().admin<CreatedClient & { dpop_bound_access_tokens?: boolean }>([
      "client", "create", "--name", "o4w DPoP machine", "--type", "confidential",
      "--grant-types", "client_credentials", "--scope", "read", "--dpop-bound",
    ]),
    server().createClient({
      name: "o4w DPoP public app",
      type: "public",
      grantTypes: ["authorization_code", "refresh_token"],
      redirectUris: [REDIRECT],
      scope: "openid read",
    }),
  ]);
  const issuer = new URL(server().issuer);
  as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: "oidc", ...http }));
});

const newKeyPair = () => generateKeyPair("ES256") as Promise<CryptoKeyPair>;

/** Runs a request once more when the server asks for a fresh nonce (the handle kept it). */
async function withNonceRetry<T>(attempt: () => Promise<T>): Promise<T> {
  try {
    return await attempt();
  } catch (err) {
    if (!oauth.isDPoPNonceError(err)) throw err;
    return attempt();
  }
}

const apiMe = (accessToken: string, DPoP?: oauth.DPoPHandle) =>
  oauth.protectedResourceRequest(accessToken, "GET", new URL(`${server().base}/api/me`), undefined, undefined, { ...http, DPoP });

describe("oauth4webapi: DPoP", () => {
  it("the metadata names the proof algorithms; the CLI recorded --dpop-bound", () => {
    expect(as.dpop_signing_alg_values_supported).toEqual(expect.arrayContaining(["ES256", "RS256", "Ed25519"]));
    expect(machine.dpop_bound_access_tokens).toBe(true);
  });

  it("client_credentials of a DPoP-bound client, with the nonce, then /api/me with the proof; without a proof it is refused", async () => {
    const client: oauth.Client = { client_id: machine.client_id };
    const auth = oauth.ClientSecretBasic(machine.client_secret!);
    const refused = await oauth.clientCredentialsGrantRequest(as, client, auth, { scope: "read" }, http);
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: string }).error).toBe("invalid_dpop_proof");

    const DPoP = oauth.DPoP(client, await newKeyPair());
    const tokens = await withNonceRetry(async () =>
      oauth.processClientCredentialsResponse(as, client, await oauth.clientCredentialsGrantRequest(as, client, auth, { scope: "read" }, { ...http, DPoP })),
    );
    expect(tokens.token_type).toBe("dpop");
    const me = await apiMe(tokens.access_token, DPoP);
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ client_id: machine.client_id });
    // The same token as Bearer: refused (no downgrade).
    const bearer = await fetch(`${server().base}/api/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(bearer.status).toBe(401);
    expect(bearer.headers.get("www-authenticate")).toMatch(/^DPoP .*error="invalid_token"/);
  });

  it("a public client's code flow, refresh with the same key, UserInfo; another key cannot refresh", async () => {
    const client: oauth.Client = { client_id: spa.client_id };
    const auth = oauth.None();
    const keyPair = await newKeyPair();
    const DPoP = oauth.DPoP(client, keyPair);
    const user = await server().createUser("dpop");
    const verifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    const url = new URL(as.authorization_endpoint!);
    url.search = new URLSearchParams({
      client_id: spa.client_id,
      redirect_uri: REDIRECT,
      response_type: "code",
      scope: "openid read",
      state,
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
    }).toString();
    const { callback } = await authorizeInteractively(new UserAgent(), url, user);
    const params = oauth.validateAuthResponse(as, client, callback, state);
    const tokens = await withNonceRetry(async () =>
      oauth.processAuthorizationCodeResponse(as, client, await oauth.authorizationCodeGrantRequest(as, client, auth, params, REDIRECT, verifier, { ...http, DPoP })),
    );
    expect(tokens.token_type).toBe("dpop");
    expect(tokens.refresh_token).toBeTruthy();

    // UserInfo asks for the nonce too (DPOP_NONCE); the handle already holds the token endpoint's.
    const info = await withNonceRetry(async () =>
      oauth.processUserInfoResponse(as, client, user.id, await oauth.userInfoRequest(as, client, tokens.access_token, { ...http, DPoP })),
    );
    expect(info.sub).toBe(user.id);

    const thief = oauth.DPoP(client, await newKeyPair());
    await expect(
      withNonceRetry(async () =>
        oauth.processRefreshTokenResponse(as, client, await oauth.refreshTokenGrantRequest(as, client, auth, tokens.refresh_token!, { ...http, DPoP: thief })),
      ),
    ).rejects.toMatchObject({ error: "invalid_grant" });

    const refreshed = await withNonceRetry(async () =>
      oauth.processRefreshTokenResponse(as, client, await oauth.refreshTokenGrantRequest(as, client, auth, tokens.refresh_token!, { ...http, DPoP })),
    );
    expect(refreshed.token_type).toBe("dpop");
    expect((await apiMe(refreshed.access_token, DPoP)).status).toBe(200);
  });
});
