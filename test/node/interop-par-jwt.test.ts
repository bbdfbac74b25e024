/**
 * Interoperability of pushed authorization requests (RFC 9126) and JWT client authentication
 * (private_key_jwt, client_secret_jwt: RFC 7523, OIDC Core §9) with oauth4webapi, a client library
 * written elsewhere, against `wrangler dev`. Its checks all stay on; `allowInsecureRequests` only
 * lets it speak http to the loopback server.
 */
import { exportJWK, generateKeyPair } from "jose";
import * as oauth from "oauth4webapi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useServer, type CreatedClient } from "./support/server";
import { authorizeInteractively, UserAgent } from "./support/user-agent";

// The admin CLI seals client_secret_jwt secrets under the server's SECRET_KEY: both get this one.
const SECRET_KEY = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
const server = useServer({ vars: { SECRET_KEY } });
const previousSecret = process.env.SECRET_KEY;

const http = { [oauth.allowInsecureRequests]: true } as const;
const REDIRECT = "http://127.0.0.1:9/callback";

let as: oauth.AuthorizationServer;
let keyClient: CreatedClient;
let hmacClient: CreatedClient;
let privateKey: CryptoKey;

beforeAll(async () => {
  process.env.SECRET_KEY = SECRET_KEY;
  const pair = await generateKeyPair("ES256", { extractable: true });
  privateKey = pair.privateKey;
  const jwks = { keys: [{ ...(await exportJWK(pair.publicKey)), kid: "interop-1", alg: "ES256", use: "sig" }] };
  const common = ["--type", "confidential", "--redirect-uris", REDIRECT, "--scope", "read write"];
  [keyClient, hmacClient] = await Promise.all([
    server().admin<CreatedClient>([
      "client", "create", "--name", "o4w private_key_jwt", ...common,
      "--grant-types", "authorization_code,client_credentials",
      "--auth-method", "private_key_jwt", "--jwks", JSON.stringify(jwks), "--require-par",
    ]),
    server().admin<CreatedClient>([
      "client", "create", "--name", "o4w client_secret_jwt", ...common,
      "--grant-types", "authorization_code,client_credentials", "--auth-method", "client_secret_jwt",
    ]),
  ]);
  const issuer = new URL(server().issuer);
  as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: "oidc", ...http }));
});

afterAll(() => {
  if (previousSecret === undefined) delete process.env.SECRET_KEY;
  else process.env.SECRET_KEY = previousSecret;
});

const client = (c: CreatedClient): oauth.Client => ({ client_id: c.client_id });

async function pushedFlow(clientAuth: oauth.ClientAuth) {
  const user = await server().createUser("par");
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const params = new URLSearchParams({
    redirect_uri: REDIRECT,
    response_type: "code",
    scope: "read",
    state,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
  });
  const pushed = await oauth.processPushedAuthorizationResponse(
    as,
    client(keyClient),
    await oauth.pushedAuthorizationRequest(as, client(keyClient), clientAuth, params, http),
  );
  const url = new URL(as.authorization_endpoint!);
  url.search = new URLSearchParams({ client_id: keyClient.client_id, request_uri: pushed.request_uri }).toString();
  return { user, verifier, state, pushed, url };
}

describe("oauth4webapi: PAR and JWT client authentication", () => {
  it("the metadata names the PAR endpoint and the JWT methods and algorithms", () => {
    expect(as.pushed_authorization_request_endpoint).toBe(`${server().issuer}/par/`);
    expect(as.token_endpoint_auth_methods_supported).toEqual(expect.arrayContaining(["private_key_jwt", "client_secret_jwt"]));
    expect(as.token_endpoint_auth_signing_alg_values_supported).toEqual(expect.arrayContaining(["ES256", "HS256"]));
  });

  it("private_key_jwt: client_credentials, introspection and revocation", async () => {
    const auth = () => oauth.PrivateKeyJwt(privateKey);
    const res = await oauth.clientCredentialsGrantRequest(as, client(keyClient), auth(), { scope: "read" }, http);
    const tokens = await oauth.processClientCredentialsResponse(as, client(keyClient), res);
    expect(tokens.scope).toBe("read");
    const introspected = await oauth.processIntrospectionResponse(
      as,
      client(keyClient),
      await oauth.introspectionRequest(as, client(keyClient), auth(), tokens.access_token, http),
    );
    expect(introspected).toMatchObject({ active: true, client_id: keyClient.client_id });
    await oauth.processRevocationResponse(await oauth.revocationRequest(as, client(keyClient), auth(), tokens.access_token, http));
  });

  it("pushedAuthorizationRequest with private_key_jwt, then the code flow and the token request with it", async () => {
    const { user, verifier, state, pushed, url } = await pushedFlow(oauth.PrivateKeyJwt(privateKey));
    expect(pushed.request_uri).toMatch(/^urn:ietf:params:oauth:request_uri:/);
    expect(pushed.expires_in).toBe(60);
    const { callback } = await authorizeInteractively(new UserAgent(), url, user);
    const params = oauth.validateAuthResponse(as, client(keyClient), callback, state);
    const res = await oauth.authorizationCodeGrantRequest(as, client(keyClient), oauth.PrivateKeyJwt(privateKey), params, REDIRECT, verifier, http);
    const tokens = await oauth.processAuthorizationCodeResponse(as, client(keyClient), res);
    expect(tokens.scope).toBe("read");

    // The request_uri answered once: again, it ends on an error page, never at the client.
    await expect(authorizeInteractively(new UserAgent(), url, user)).rejects.toThrow(/invalid_request_uri/);
  });

  it("a client that must push: a plain request comes back as invalid_request", async () => {
    const user = await server().createUser("plain");
    const state = oauth.generateRandomState();
    const url = new URL(as.authorization_endpoint!);
    url.search = new URLSearchParams({
      client_id: keyClient.client_id,
      redirect_uri: REDIRECT,
      response_type: "code",
      scope: "read",
      state,
      code_challenge: await oauth.calculatePKCECodeChallenge(oauth.generateRandomCodeVerifier()),
      code_challenge_method: "S256",
    }).toString();
    const { callback } = await authorizeInteractively(new UserAgent(), url, user);
    expect(() => oauth.validateAuthResponse(as, client(keyClient), callback, state)).toThrow();
    expect(callback.searchParams.get("error")).toBe("invalid_request");
  });

  it("client_secret_jwt: an HMAC assertion keyed with the secret the CLI printed", async () => {
    const res = await oauth.clientCredentialsGrantRequest(as, client(hmacClient), oauth.ClientSecretJwt(hmacClient.client_secret!), { scope: "write" }, http);
    const tokens = await oauth.processClientCredentialsResponse(as, client(hmacClient), res);
    expect(tokens.scope).toBe("write");
    // The same secret as client_secret_basic is refused: only the registered method counts.
    const basic = await oauth.clientCredentialsGrantRequest(as, client(hmacClient), oauth.ClientSecretBasic(hmacClient.client_secret!), {}, http);
    expect(basic.status).toBe(401);
  });
});
