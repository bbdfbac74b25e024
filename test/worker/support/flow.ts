import { decodeJwt } from "jose";
import { expect } from "vitest";
import { registerUser } from "../../../src/db/registration";
import { Browser, hiddenFields, redirectParams } from "./browser";
import { basic, db, postToken } from "./helpers";

/** Shared steps of the authorization flows, driven over HTTP like a browser and a client would. */

export const PASSWORD = "correct horse battery";
export const REDIRECT = "https://app.example.com/callback";
/** RFC 7636 Appendix B. */
export const VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
export const CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

export const unique = (prefix: string) => `${prefix}${crypto.randomUUID().slice(0, 8)}`;

export async function newUser(prefix = "user") {
  const username = unique(prefix);
  const user = await registerUser(db(), { username, password: PASSWORD });
  return { username, id: user.id };
}

/** A browser signed in as a new user. */
export async function signedIn(prefix = "user") {
  const user = await newUser(prefix);
  const browser = new Browser();
  const res = await browser.login(user.username, PASSWORD);
  expect(res.status).toBe(200);
  return { browser, ...user };
}

export function authorizeUrl(params: Fields): string {
  return `/o/authorize/?${new URLSearchParams(defined(params))}`;
}

/** Whether a response is the consent page. */
export function isConsentPage(res: Response, html: string): boolean {
  return res.status === 200 && html.includes('name="allow"') && html.includes('name="csrfmiddlewaretoken"');
}

/** Sends an authorization request from a signed-in browser, expects the consent page and returns its HTML. */
export async function expectConsentPage(browser: Browser, params: Record<string, string | undefined>): Promise<string> {
  const res = await browser.get(authorizeUrl(params));
  const html = await res.text();
  expect(isConsentPage(res, html), `${res.status} ${res.headers.get("location")}`).toBe(true);
  return html;
}

/**
 * Sends an authorization request from a signed-in browser and approves the consent page if one
 * is shown; returns the final response (the redirect to the client, or a form_post page).
 */
export async function authorizeAndApprove(browser: Browser, params: Record<string, string | undefined>): Promise<Response> {
  const first = await browser.get(authorizeUrl(params));
  if (first.status !== 200) return first;
  const html = await first.text();
  expect(isConsentPage(first, html)).toBe(true);
  return browser.post("/o/authorize/", { ...hiddenFields(html), allow: "Authorize" });
}

/** The authorization code of a successful authorization response. */
export async function getCode(browser: Browser, params: Record<string, string | undefined>): Promise<string> {
  const res = await authorizeAndApprove(browser, params);
  expect(res.status).toBe(303);
  const out = redirectParams(res);
  expect(out.get("error")).toBeNull();
  const code = out.get("code");
  expect(code).toBeTruthy();
  return code!;
}

/** A code request with PKCE (RFC 7636 Appendix B values) for `clientId`. */
export const codeRequest = (clientId: string, extra: Record<string, string | undefined> = {}) => ({
  response_type: "code",
  client_id: clientId,
  redirect_uri: REDIRECT,
  scope: "read write",
  state: "st-123",
  code_challenge: CHALLENGE,
  code_challenge_method: "S256",
  ...extra,
});

export interface ClientCredentials {
  clientId: string;
  clientSecret: string;
}

type Fields = Record<string, string | undefined>;

function defined(fields: Fields): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(fields)) if (value !== undefined) out[name] = value;
  return out;
}

/**
 * A token request authenticated as the client: Basic for confidential clients, client_id for
 * public ones. Fields set to undefined are left out.
 */
export function tokenRequest(client: ClientCredentials, params: Fields) {
  if (client.clientSecret) return postToken(defined(params), { authorization: basic(client.clientId, client.clientSecret) });
  return postToken(defined({ ...params, client_id: client.clientId }));
}

export const exchangeCode = (client: ClientCredentials, code: string, extra: Fields = {}) =>
  tokenRequest(client, { grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: VERIFIER, ...extra });

export const refresh = (client: ClientCredentials, refreshToken: string, extra: Fields = {}) =>
  tokenRequest(client, { grant_type: "refresh_token", refresh_token: refreshToken, ...extra });

export interface TokenBody {
  access_token: string;
  token_type: string;
  expires_in: number;
  scope: string;
  refresh_token?: string;
}

export async function expectTokens(res: Response): Promise<TokenBody> {
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return JSON.parse(text) as TokenBody;
}

/** An RFC 6749 §5.2 error response. */
export async function expectTokenError(res: Response, error: string, status = error === "invalid_client" ? 401 : 400) {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  const body = JSON.parse(text) as { error: string; error_description: string };
  expect(body.error).toBe(error);
  expect(body.error_description.length).toBeGreaterThan(5);
  return body;
}

/** The grant id (`gid`) of an access token, for the KV revocation key. */
export const grantIdOf = (accessToken: string) => decodeJwt(accessToken).gid as string;
