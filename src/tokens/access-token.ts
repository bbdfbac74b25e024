import { SignJWT } from "jose";
import { randomToken } from "../core/crypto";
import { signingKeyFor, type KeyRing } from "./keys";
import { nowSeconds } from "../core/time";

export interface AccessTokenGrant {
  issuer: string;
  /** The resource owner, or the client itself for client_credentials (RFC 9068 §2.2). */
  subject: string;
  audience: string | string[];
  clientId: string;
  scope: string[];
  lifetimeSeconds: number;
  /** Extra claims, e.g. `auth_time` or the grant id used for revocation. */
  claims?: Record<string, unknown>;
}

export interface IssuedAccessToken {
  token: string;
  jti: string;
  expiresIn: number;
  expiresAt: number;
}

/** Signs an RFC 9068 access token (`typ: at+jwt`). */
export async function issueAccessToken(ring: KeyRing, alg: string, grant: AccessTokenGrant): Promise<IssuedAccessToken> {
  const key = signingKeyFor(ring, alg);
  const now = nowSeconds();
  const jti = randomToken(16);
  const expiresAt = now + grant.lifetimeSeconds;
  const token = await new SignJWT({
    ...grant.claims,
    client_id: grant.clientId,
    scope: grant.scope.join(" "),
  })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "at+jwt" })
    .setIssuer(grant.issuer)
    .setSubject(grant.subject)
    .setAudience(grant.audience)
    .setIssuedAt(now)
    .setExpirationTime(expiresAt)
    .setJti(jti)
    .sign(key.key);
  return { token, jti, expiresIn: grant.lifetimeSeconds, expiresAt };
}
