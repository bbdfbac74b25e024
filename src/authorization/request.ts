import type { Database } from "../db/index";
import type { Client } from "../db/schema";
import {
  invalidRequest,
  invalidScope,
  OAuthError,
  requestNotSupported,
  requestUriNotSupported,
  unauthorizedClient,
  unsupportedResponseType,
} from "../oauth/errors";
import { ClientIdDocumentError } from "../oauth/client-id-document";
import { findClientForRequest } from "../oauth/client-lookup";
import type { Params } from "../oauth/form";
import { checkCodeChallenge, pkceRequiredFor, type ChallengeMethod } from "../oauth/pkce";
import { matchRedirectUri } from "../oauth/redirect-uri";
import { resolveResources } from "../oauth/resource";
import { parseScope, resolveScope } from "../oauth/scope";
import { checkClaimsRequest } from "../oidc/claims";
import type { ClaimsRequest } from "../tokens/claims-request";
import type { Settings } from "../core/settings";

/**
 * The authorization request (RFC 6749 §4.1.1, §4.2.1; OIDC Core §3.1.2.1), checked step by step
 * in the order of RFC 6749 §4.1.2.1: first the client and the redirect URI, whose errors are
 * shown on a page (never redirected: no open redirector); then everything else, whose errors
 * are sent to the client's redirect URI.
 */

export type ResponseMode = "query" | "fragment" | "form_post";

/** Where the response goes; known once the client and redirect URI are trusted. */
export interface ResponseTarget {
  redirectUri: string;
  responseMode: ResponseMode;
  state?: string;
}

export interface AuthorizationRequest extends ResponseTarget {
  client: Client;
  redirectUriSent: boolean;
  /** Response type values, e.g. ["code"] or ["id_token", "token"]. */
  responseTypes: string[];
  scope: string[];
  /** RFC 8707: the resources the tokens are for (the default audience when the request names none). */
  resources: string[];
  /** Whether the request named its resources (else they are the default audience). */
  resourcesNamed: boolean;
  codeChallenge?: string;
  codeChallengeMethod?: ChallengeMethod;
  /** RFC 9449 §10: the thumbprint of the DPoP key the code may be redeemed with. */
  dpopJkt?: string;
  nonce?: string;
  claims?: ClaimsRequest;
  prompt: string[];
  maxAge?: number;
  loginHint?: string;
  /** DOT's per-request `approval_prompt`; the REQUEST_APPROVAL_PROMPT setting when absent. */
  approvalPrompt?: "force" | "auto";
  /** The request's parameters, carried through the login and consent forms. */
  params: Params;
}

/** An error to show on a page: the client or the redirect URI cannot be trusted. */
export class UntrustedRequestError extends OAuthError {}

const untrusted = (description: string) => new UntrustedRequestError("invalid_request", description, 400);

/** Response types this server answers (OAuth 2.0 Multiple Response Types, OIDC Core §3). */
export const RESPONSE_TYPES = ["code", "id_token", "id_token token", "code id_token", "code token", "code id_token token", "token"];

/** The grants a client needs for a response type: code needs authorization_code, tokens in the front channel need implicit. */
export function grantsNeededFor(responseTypes: string[]): string[] {
  const needed: string[] = [];
  if (responseTypes.includes("code")) needed.push("authorization_code");
  if (responseTypes.includes("token") || responseTypes.includes("id_token")) needed.push("implicit");
  return needed;
}

const isTokenBearing = (types: string[]) => types.includes("token") || types.includes("id_token");

/** Step 1: the client and its redirect URI. */
export async function checkClientAndRedirect(
  db: Database,
  settings: Settings,
  params: Params,
): Promise<{ client: Client; redirectUri: string; redirectUriSent: boolean }> {
  const clientId = params.get("client_id");
  if (!clientId) throw untrusted('missing required parameter "client_id"');
  const client = await findClientForRequest(db, settings, clientId).catch((err: unknown) => {
    // A refused client ID metadata document: the client is not trusted, so the page says why.
    throw err instanceof ClientIdDocumentError ? untrusted(err.description) : err;
  });
  if (!client) throw untrusted("unknown client_id");

  const requested = params.get("redirect_uri");
  if (requested === undefined) {
    if (client.redirectUris.length !== 1) {
      throw untrusted('missing "redirect_uri": this client has several registered redirect URIs');
    }
    return { client, redirectUri: client.redirectUris[0]!, redirectUriSent: false };
  }
  // RFC 8252 §7.3: only a native app may listen on any loopback port; web clients match exactly.
  const loopbackPortVaries = client.clientType === "public" && client.applicationType === "native";
  if (!matchRedirectUri(requested, client.redirectUris, loopbackPortVaries)) {
    throw untrusted("redirect_uri is not registered for this client");
  }
  return { client, redirectUri: requested, redirectUriSent: true };
}

function parseResponseTypes(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  return [...new Set(value.split(" ").filter(Boolean))].sort();
}

/** Step 2: how to answer (response_mode), decided before any other error so errors go the right way. */
export function responseTarget(params: Params, redirectUri: string): ResponseTarget & { modeError?: OAuthError } {
  const types = parseResponseTypes(params.get("response_type")) ?? [];
  const fallback: ResponseMode = isTokenBearing(types) ? "fragment" : "query";
  const state = params.get("state");
  const mode = params.get("response_mode");
  if (mode === undefined) return { redirectUri, responseMode: fallback, state };
  if (mode !== "query" && mode !== "fragment" && mode !== "form_post") {
    return { redirectUri, responseMode: fallback, state, modeError: invalidRequest("this response_mode is not supported; use query, fragment or form_post") };
  }
  if (mode === "query" && isTokenBearing(types)) {
    return { redirectUri, responseMode: fallback, state, modeError: invalidRequest("tokens must not be returned in the query: use fragment or form_post") };
  }
  return { redirectUri, responseMode: mode, state };
}

const PROMPTS = new Set(["none", "login", "consent", "select_account"]);

/** Step 3: everything else, each error redirected to the client. `audience` is the default audience of tokens. */
export function checkAuthorizationRequest(
  params: Params,
  settings: Settings,
  trusted: { client: Client; redirectUri: string; redirectUriSent: boolean },
  target: ResponseTarget,
  audience: string,
): AuthorizationRequest {
  const { client } = trusted;
  if (params.has("request")) throw requestNotSupported("request objects are not supported");
  if (params.has("request_uri")) throw requestUriNotSupported("request_uri is not supported");

  const responseTypes = parseResponseTypes(params.get("response_type"));
  if (!responseTypes || responseTypes.length === 0) throw invalidRequest('missing required parameter "response_type"');
  const key = responseTypes.join(" ");
  if (!RESPONSE_TYPES.includes(key)) {
    throw unsupportedResponseType("this response_type is not supported");
  }
  if (!grantsNeededFor(responseTypes).every((grant) => client.grantTypes.includes(grant))) {
    throw unauthorizedClient(`this client may not use response_type ${key}`);
  }

  const scope = resolveScope(parseScope(params.get("scope")), client, settings);
  if (scope.length === 0) throw invalidScope("no scope to grant");
  const openid = scope.includes("openid");
  if (responseTypes.includes("id_token") && !openid) throw invalidRequest("response_type id_token needs the openid scope");
  // OIDC Core §3.2.2.1, §3.3.2.11: the implicit and hybrid flows must carry a nonce.
  if (openid && key !== "code" && key !== "token" && params.get("nonce") === undefined) {
    throw invalidRequest("nonce is required for this response_type");
  }
  const resources = resolveResources(params.getAll("resource"), { audience, settings, client });

  const usesCode = responseTypes.includes("code");
  const pkce = usesCode
    ? checkCodeChallenge(
        params.get("code_challenge"),
        params.get("code_challenge_method"),
        pkceRequiredFor(client.clientType, settings),
        settings,
      )
    : {};

  // RFC 9449 §10: binds the code to a DPoP key; a JWK SHA-256 thumbprint (43 base64url characters).
  const dpopJkt = params.get("dpop_jkt");
  if (dpopJkt !== undefined && (!usesCode || !/^[A-Za-z0-9_-]{43}$/.test(dpopJkt))) {
    throw invalidRequest("dpop_jkt must be a JWK SHA-256 thumbprint, with a response_type that includes code");
  }

  const prompt = (params.get("prompt") ?? "").split(" ").filter(Boolean);
  const unknownPrompt = prompt.find((p) => !PROMPTS.has(p));
  if (unknownPrompt) throw invalidRequest("a prompt value is not supported; use none, login, consent or select_account");
  if (prompt.includes("none") && prompt.length > 1) throw invalidRequest("prompt=none cannot be combined with other values");

  const maxAgeText = params.get("max_age");
  let maxAge: number | undefined;
  if (maxAgeText !== undefined) {
    if (!/^\d{1,10}$/.test(maxAgeText)) throw invalidRequest("max_age must be a non-negative integer");
    maxAge = Number(maxAgeText);
  }

  let claims: ClaimsRequest | undefined;
  const claimsText = params.get("claims");
  if (claimsText !== undefined) {
    if (claimsText.length > 4096) throw invalidRequest("the claims parameter is too large");
    try {
      claims = JSON.parse(claimsText) as ClaimsRequest;
    } catch {
      throw invalidRequest("the claims parameter must be a JSON object");
    }
    if (typeof claims !== "object" || claims === null || Array.isArray(claims)) {
      throw invalidRequest("the claims parameter must be a JSON object");
    }
    claims = checkClaimsRequest(claims);
  }
  const nonce = params.get("nonce");
  if (nonce !== undefined && nonce.length > 512) throw invalidRequest("nonce is too long");
  const approvalPrompt = params.get("approval_prompt");
  if (approvalPrompt !== undefined && approvalPrompt !== "force" && approvalPrompt !== "auto") {
    throw invalidRequest("approval_prompt must be force or auto");
  }

  return {
    ...target,
    client,
    redirectUri: trusted.redirectUri,
    redirectUriSent: trusted.redirectUriSent,
    responseTypes,
    scope,
    resources,
    resourcesNamed: params.getAll("resource").length > 0,
    ...pkce,
    dpopJkt,
    nonce,
    claims,
    prompt,
    maxAge,
    loginHint: params.get("login_hint"),
    approvalPrompt,
    params,
  };
}
