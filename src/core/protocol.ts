/** Syntax and algorithm lists the protocols fix, used by the settings, the schema and the checks alike. */

/**
 * JWS algorithms this server signs and verifies with (access tokens, ID tokens). `Ed25519` is RFC
 * 9864's fully specified name; `EdDSA` (the same Ed25519 signature under the polymorphic name RFC
 * 9864 deprecates) stays for relying parties that know only it.
 */
export const SIGNING_ALGORITHMS = ["ES256", "RS256", "Ed25519", "EdDSA", "PS256", "ES384"] as const;

/** RFC 6749 §3.3 `scope-token`: %x21 / %x23-5B / %x5D-7E (no space, quote or backslash). */
export const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/** Host names of the loopback interface as a URL parser gives them (RFC 8252 §7.3, plus `localhost`). */
export const LOOPBACK_HOSTNAMES: ReadonlySet<string> = new Set(["localhost", "127.0.0.1", "[::1]"]);

/** A space-separated list of scope tokens (possibly empty). */
export const SCOPE_LIST = /^[\x21\x23-\x5b\x5d-\x7e ]*$/;

/** RFC 8628 §3.4: the Device Authorization Grant's `grant_type`. */
export const DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";

/** RFC 8693 §2.1: the Token Exchange grant's `grant_type`. */
export const TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange";

/** RFC 8693 §3: the token type identifier of an OAuth 2.0 access token (ours: RFC 9068 JWTs). */
export const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";
