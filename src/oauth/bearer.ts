import { OAuthError } from "./errors";

/** RFC 6750 §2.1: `Authorization: Bearer <b64token>`. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

export const usesBearerScheme = (header: string | undefined): header is string => !!header && /^bearer(\s|$)/i.test(header);

/** The token of a Bearer header, or undefined when the header is malformed. */
export function bearerToken(header: string): string | undefined {
  return BEARER.exec(header)?.[1];
}

/** A `WWW-Authenticate: Bearer` challenge (RFC 6750 §3) with quoted, sanitised fields. */
export function bearerChallenge(realm: string, fields: Record<string, string> = {}): string {
  const quoted = Object.entries({ realm, ...fields }).map(([k, v]) => `${k}="${v.replace(/["\\]/g, "")}"`);
  return `Bearer ${quoted.join(", ")}`;
}

export type BearerErrorCode = "invalid_request" | "invalid_token" | "insufficient_scope";

/**
 * An RFC 6750 §3 error of a resource (UserInfo, introspection's Bearer callers, `requireToken`):
 * the code in the body and in the `WWW-Authenticate: Bearer` challenge.
 */
export function bearerError(
  realm: string,
  status: 400 | 401 | 403,
  error: BearerErrorCode,
  description: string,
  extra: Record<string, string> = {},
): OAuthError {
  return new OAuthError(error, description, status, {
    "WWW-Authenticate": bearerChallenge(realm, { error, error_description: description, ...extra }),
  });
}

/** RFC 6750 §3.1: no token was sent, so the 401's challenge carries no error code (`extra`: e.g. RFC 9728's `resource_metadata`). */
export function tokenRequired(realm: string, extra: Record<string, string> = {}): OAuthError {
  return new OAuthError("invalid_request", "an access token is required", 401, { "WWW-Authenticate": bearerChallenge(realm, extra) });
}
