import { SIGNING_ALGORITHMS } from "../core/protocol";
import { errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";
import { isRevoked, withUserId } from "./revocation";
import type { KeyRing } from "./keys";

/** The claims of an access token issued by this server (RFC 9068). */
export interface AccessTokenClaims extends JWTPayload {
  iss: string;
  sub: string;
  aud: string | string[];
  exp: number;
  iat: number;
  jti: string;
  client_id: string;
  scope: string;
  /** The grant (authorization) the token belongs to; absent for client_credentials. */
  gid?: string;
  auth_time?: number;
}

export type TokenCheck =
  | { active: true; claims: AccessTokenClaims }
  | { active: false; reason: "malformed" | "invalid" | "expired" | "revoked" };

/** Keys to verify with: the provider's own ring, or a remote JWKS (jose's createRemoteJWKSet). */
export type VerificationKeys = KeyRing | JWTVerifyGetKey;

function keyResolver(keys: VerificationKeys): JWTVerifyGetKey {
  if (typeof keys === "function") return keys;
  return (header) => {
    const key = keys.keys.find((k) => k.kid === header.kid && k.alg === header.alg);
    if (!key) throw new errors.JWKSNoMatchingKey();
    return key.verifyKey;
  };
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export const looksLikeJwt = (token: string) => token.length < 16384 && JWT_SHAPE.test(token);

/**
 * Verifies an access token: signature by one of our keys, `typ: at+jwt`, issuer, expiry and,
 * when `audience` is given, audience; then, with `kv`, that it is not revoked (one KV read).
 * With `secret` (SECRET_KEY) the user notes of pairwise clients' tokens are read too.
 */
export async function verifyAccessToken(
  token: string,
  options: { keys: VerificationKeys; issuer: string; audience?: string | string[]; kv?: KVNamespace; secret?: string; algorithms?: string[] },
): Promise<TokenCheck> {
  if (!looksLikeJwt(token)) return { active: false, reason: "malformed" };
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, keyResolver(options.keys), {
      issuer: options.issuer,
      audience: options.audience,
      typ: "at+jwt",
      algorithms: options.algorithms ?? [...SIGNING_ALGORITHMS],
      requiredClaims: ["sub", "exp", "iat", "jti", "client_id"],
    }));
  } catch (err) {
    return { active: false, reason: err instanceof errors.JWTExpired ? "expired" : "invalid" };
  }
  const claims = payload as AccessTokenClaims;
  if (typeof claims.scope !== "string") claims.scope = "";
  if (options.kv && (await isRevoked(options.kv, await withUserId(claims, options.secret)))) return { active: false, reason: "revoked" };
  return { active: true, claims };
}
