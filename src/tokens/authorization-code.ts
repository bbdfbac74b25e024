import type { ClaimsRequest } from "./claims-request";
import { seal, unseal } from "./sealed";

/**
 * Authorization codes are sealed: the grant they stand for is encrypted (AES-256-GCM) into the
 * code itself, so any location can redeem a code the moment it is issued, without waiting for
 * KV to propagate. Single use is decided at redemption by a unique insert of the code's hash
 * in D1 (see docs/consistency.md).
 */
export interface CodeGrant {
  /** The family id shared by every token this code leads to. */
  grantId: string;
  clientId: string;
  userId: string;
  redirectUri: string;
  /** Whether the authorization request carried `redirect_uri` (then the token request must repeat it). */
  redirectUriSent: boolean;
  scope: string[];
  /** RFC 8707: the resources authorized (the default audience when the request named none); absent in codes sealed before resources existed. */
  resources?: string[];
  codeChallenge?: string;
  codeChallengeMethod?: "S256" | "plain";
  /** RFC 9449 §10: the code is redeemed only with a DPoP proof of the key with this thumbprint. */
  dpopJkt?: string;
  nonce?: string;
  claims?: ClaimsRequest;
  /** The browser session the code came from (OIDC `sid`). */
  sid?: string;
  authTime: number;
  /** Unix seconds. */
  expiresAt: number;
}

export const sealCode = (secret: string, grant: CodeGrant): Promise<string> => seal(secret, "code", grant);

/** The grant sealed in `code`, or undefined for anything forged, altered or malformed. Expiry is the caller's check. */
export const openCode = (secret: string, code: string): Promise<CodeGrant | undefined> => unseal<CodeGrant>(secret, "code", code);
