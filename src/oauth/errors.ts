import type { ContentfulStatusCode } from "hono/utils/http-status";

/** RFC 6749 §5.2: `error_description` is %x20-21 / %x23-5B / %x5D-7E (no quote, no backslash, ASCII only). */
const NOT_DESCRIPTION_CHARACTERS = /[^\x20\x21\x23-\x5b\x5d-\x7e]/g;

/**
 * One error type for the whole server, named after the RFC error codes. Thrown where a rule is
 * checked, rendered in one place (`renderError` in provider.ts, or the authorization response).
 * Descriptions are fixed texts that never quote the request; any character RFC 6749 §5.2 does
 * not allow is dropped here, so no rendering can send one.
 */
/**
 * The error codes this server answers with: RFC 6749 §4.1.2.1 and §5.2, RFC 7009, RFC 6750 §3.1,
 * OIDC Core §3.1.2.6, RFC 8707 §2 (invalid_target), RFC 7591 §3.2.2 (registration), RFC 8628
 * §3.5 (device polling), RFC 9449 §5 and §8 (DPoP proofs and nonces), and RFC 6585's 429 named as a code.
 */
export type ErrorCode =
  | "invalid_request"
  | "invalid_client"
  | "invalid_grant"
  | "invalid_scope"
  | "unauthorized_client"
  | "unsupported_grant_type"
  | "unsupported_response_type"
  | "unsupported_token_type"
  | "access_denied"
  | "server_error"
  | "login_required"
  | "consent_required"
  | "request_not_supported"
  | "request_uri_not_supported"
  | "invalid_request_uri"
  | "invalid_token"
  | "insufficient_scope"
  | "too_many_requests"
  | "invalid_target"
  | "invalid_redirect_uri"
  | "invalid_client_metadata"
  | "invalid_software_statement"
  | "unapproved_software_statement"
  | "authorization_pending"
  | "slow_down"
  | "expired_token"
  | "invalid_dpop_proof"
  | "use_dpop_nonce";

export class OAuthError extends Error {
  override name = "OAuthError";
  readonly description: string;
  constructor(
    readonly error: ErrorCode,
    description: string,
    readonly status: ContentfulStatusCode = 400,
    readonly headers: Record<string, string> = {},
  ) {
    const safe = description.replace(NOT_DESCRIPTION_CHARACTERS, "");
    super(`${error}: ${safe}`);
    this.description = safe;
  }
}

const make =
  (error: ErrorCode, status: ContentfulStatusCode = 400) =>
  (description: string, headers?: Record<string, string>) =>
    new OAuthError(error, description, status, headers);

export const invalidRequest = make("invalid_request");
export const invalidGrant = make("invalid_grant");
export const invalidScope = make("invalid_scope");
export const unauthorizedClient = make("unauthorized_client");
export const unsupportedGrantType = make("unsupported_grant_type");
export const unsupportedResponseType = make("unsupported_response_type");
export const unsupportedTokenType = make("unsupported_token_type");
export const accessDenied = make("access_denied", 403);
export const loginRequired = make("login_required");
export const consentRequired = make("consent_required");
export const requestNotSupported = make("request_not_supported");
export const requestUriNotSupported = make("request_uri_not_supported");
/** RFC 9126 §4 (OIDC Core §3.1.2.6): a pushed request's request_uri that is expired, forged, used or another client's. */
export const invalidRequestUri = make("invalid_request_uri");
/** RFC 8707 §2: a `resource` that is unknown, not allowed to this client, or wider than the grant. */
export const invalidTarget = make("invalid_target");
/** RFC 8628 §3.5: the answers to a device's poll while the user has not approved it. */
export const authorizationPending = make("authorization_pending");
export const slowDown = make("slow_down");
export const expiredToken = make("expired_token");
/** RFC 8628 §3.5: the user denied the device; a token endpoint error, so 400 (not the page's 403). */
export const deviceAccessDenied = make("access_denied");
/** RFC 7591 §3.2.2: registration metadata refused. */
export const invalidRedirectUri = make("invalid_redirect_uri");
export const invalidClientMetadata = make("invalid_client_metadata");
export const invalidSoftwareStatement = make("invalid_software_statement");
/** A failure that is the server's, not the caller's: details go to the log, never in the description. */
export const serverError = make("server_error", 500);

/**
 * RFC 6749 §5.2: 401 with a Basic challenge. Every 401 carries `WWW-Authenticate` (RFC 9110
 * §15.5.2), so the challenge is sent whether the client tried Basic, `client_secret_post`, or
 * nothing.
 */
export function invalidClient(description: string): OAuthError {
  return new OAuthError("invalid_client", description, 401, { "WWW-Authenticate": 'Basic realm="oauth", charset="UTF-8"' });
}

export function errorBody(err: OAuthError): { error: string; error_description: string } {
  return { error: err.error, error_description: err.description };
}
