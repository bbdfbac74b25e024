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
