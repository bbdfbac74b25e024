import { env, SELF } from "cloudflare:test";
import { createLocalJWKSet, importJWK, jwtVerify, SignJWT, type JSONWebKeySet, type JWK, type JWTPayload } from "jose";
import { expect } from "vitest";
import type { Hono } from "hono";
import type { ClientRegistration } from "../../../src/db/registration";
import { registerUser } from "../../../src/db/registration";
import type { ProviderEnv } from "../../../src/types";
import { Browser } from "./browser";
import { BASE, createClient, db, ISSUER } from "./helpers";
import { CHALLENGE, expectTokens, PASSWORD, REDIRECT, unique, type TokenBody } from "./flow";

/** Shared steps of the OpenID Connect tests: users with claims, OIDC clients, ID token checks. */

export const NONCE = "n-0S6_WzA2Mj";

export const USER_CLAIMS = {
  name: "Jane Doe",
  given_name: "Jane",
  family_name: "Doe",
  address: { street_address: "1 Main St", locality: "Springfield", postal_code: "12345", country: "US" },
  phone_number: "+1 555 0100",
};

export async function oidcUser(prefix = "oidc", claims: Record<string, unknown> = USER_CLAIMS) {
  const username = unique(prefix);
  const email = `${username}@example.com`;
  const user = await registerUser(db(), { username, password: PASSWORD, email, claims });
  return { username, email, id: user.id };
}

/** A browser signed in as a new user with the standard claims. */
export async function signedInOidc(prefix = "oidc", claims?: Record<string, unknown>) {
  const user = await oidcUser(prefix, claims);
  const browser = new Browser();
  const res = await browser.login(user.username, PASSWORD);
  expect(res.status).toBe(200);
  return { browser, ...user };
}

/** A confidential client allowed every response type, that skips the consent page unless told otherwise. */
export function oidcClient(overrides: Partial<ClientRegistration> = {}) {
  return createClient({
    grantTypes: ["authorization_code", "implicit", "refresh_token"],
    redirectUris: [REDIRECT],
    skipAuthorization: true,
    ...overrides,
  });
}

export const oidcRequest = (clientId: string, extra: Record<string, string | undefined> = {}) => ({
  response_type: "code",
  client_id: clientId,
  redirect_uri: REDIRECT,
  scope: "openid",
  state: "st-oidc",
  nonce: NONCE,
  code_challenge: CHALLENGE,
  code_challenge_method: "S256",
  ...extra,
});

/** A token response of the OpenID Connect flows: an ID token whenever openid was granted. */
export type OidcTokens = TokenBody & { id_token?: string };

/** A successful token response that carries an ID token. */
export async function expectOidcTokens(res: Response): Promise<TokenBody & { id_token: string }> {
  const body: OidcTokens = await expectTokens(res);
  expect(body.id_token, "id_token").toBeTypeOf("string");
  return { ...body, id_token: body.id_token! };
}

export async function publishedKeys() {
  const res = await SELF.fetch(`${ISSUER}/.well-known/jwks.json`);
  expect(res.status).toBe(200);
  return createLocalJWKSet(await res.json<JSONWebKeySet>());
}

/** Verifies an ID token against the published JWKS: signature, `iss`, `aud`, `typ: JWT`, expiry. */
export async function verifyIdToken(token: string, clientId: string) {
  const result = await jwtVerify(token, await publishedKeys(), { issuer: ISSUER, audience: clientId, typ: "JWT" });
  expect(result.protectedHeader.alg).not.toBe("none");
  expect(result.protectedHeader.kid).toBeTruthy();
  return result;
}

/** `at_hash`/`c_hash` for SHA-256 algorithms, computed here independently of the server (OIDC Core §3.3.2.11). */
export async function leftHalfSha256(value: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(value)));
  let binary = "";
  for (const byte of digest.slice(0, 16)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export const userinfo = (accessToken: string, init: RequestInit = {}) =>
  SELF.fetch(`${ISSUER}/userinfo/`, { ...init, headers: { authorization: `Bearer ${accessToken}`, ...init.headers } });

/** Signs a token with one of the test run's own private keys, to craft hints the server did not issue itself. */
export async function signWithServerKey(payload: JWTPayload, alg: "RS256" | "ES256" = "RS256", typ = "JWT"): Promise<string> {
  const jwk = (JSON.parse(env.SIGNING_KEYS) as { keys: JWK[] }).keys.find((k) => k.alg === alg)!;
  return new SignJWT(payload)
    .setProtectedHeader({ alg, kid: jwk.kid!, typ })
    .sign(await importJWK(jwk, alg));
}

/** An unsigned (`alg: none`) JWT. */
export function unsignedJwt(payload: JWTPayload): string {
  const enc = (value: object) => btoa(JSON.stringify(value)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  return `${enc({ alg: "none", typ: "JWT" })}.${enc(payload)}.`;
}

/** A browser whose requests go to a provider app (e.g. one made with other settings) instead of the Worker. */
export class AppBrowser extends Browser {
  constructor(
    private readonly app: { request: (url: string, init: RequestInit, env: object) => Response | Promise<Response> },
    private readonly workerEnv: object = env,
  ) {
    super();
  }

  override async fetch(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size > 0) headers.set("cookie", [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; "));
    const res = await this.app.request(new URL(url, BASE).toString(), { ...init, headers, redirect: "manual" }, this.workerEnv);
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const eq = pair!.indexOf("=");
      if (/max-age=0/i.test(line) || pair!.slice(eq + 1) === "") this.cookies.delete(pair!.slice(0, eq));
      else this.cookies.set(pair!.slice(0, eq), pair!.slice(eq + 1));
    }
    return res;
  }
}
