import type { ContentfulStatusCode } from "hono/utils/http-status";

/**
 * One error type for the whole server, named after the RFC error codes.
 * Thrown where a rule is checked, rendered in one place (`renderOAuthError`).
 */
export class OAuthError extends Error {
  override name = "OAuthError";
  constructor(
    readonly error: string,
    readonly description: string,
    readonly status: ContentfulStatusCode = 400,
    readonly headers: Record<string, string> = {},
  ) {
    super(`${error}: ${description}`);
  }
}

const make =
  (error: string, status: ContentfulStatusCode = 400) =>
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

/** RFC 6749 §5.2: 401, and a `WWW-Authenticate` challenge when the client tried HTTP authentication. */
export function invalidClient(description: string, triedBasic: boolean): OAuthError {
  const headers: Record<string, string> = triedBasic ? { "WWW-Authenticate": 'Basic realm="oauth", charset="UTF-8"' } : {};
  return new OAuthError("invalid_client", description, 401, headers);
}

export function errorBody(err: OAuthError): { error: string; error_description: string } {
  return { error: err.error, error_description: err.description };
}
