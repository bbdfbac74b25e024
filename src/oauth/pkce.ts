import { base64url, constantTimeEqual, sha256 } from "../core/crypto";
import type { Settings } from "../core/settings";
import { invalidGrant, invalidRequest } from "./errors";

/** RFC 7636 §4.1: 43 to 128 characters of [A-Z a-z 0-9 - . _ ~]. Challenges have the same syntax. */
const PKCE_VALUE = /^[A-Za-z0-9\-._~]{43,128}$/;

export type ChallengeMethod = "S256" | "plain";

/** The PKCE part of an authorization request, checked (RFC 7636 §4.3, RFC 9700 §2.1.1). */
export function checkCodeChallenge(
  challenge: string | undefined,
  method: string | undefined,
  mustUsePkce: boolean,
  settings: Settings,
): { codeChallenge?: string; codeChallengeMethod?: ChallengeMethod } {
  if (challenge === undefined) {
    if (method !== undefined) throw invalidRequest("code_challenge_method was sent without code_challenge");
    if (mustUsePkce) throw invalidRequest("this client must use PKCE: send code_challenge with code_challenge_method=S256");
    return {};
  }
  const effective = method ?? "plain";
  if (effective !== "S256" && effective !== "plain") throw invalidRequest("this code_challenge_method is not supported; use S256");
  if (effective === "plain" && !settings.PKCE_ALLOW_PLAIN) {
    throw invalidRequest("code_challenge_method plain is not allowed; use S256");
  }
  if (!PKCE_VALUE.test(challenge)) throw invalidRequest("code_challenge must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~");
  return { codeChallenge: challenge, codeChallengeMethod: effective };
}

export async function challengeFor(verifier: string, method: ChallengeMethod): Promise<string> {
  return method === "S256" ? base64url(await sha256(verifier)) : verifier;
}

/** The token-request half: a challenge makes the verifier mandatory, and a verifier without one is a downgrade. */
export async function checkCodeVerifier(
  verifier: string | undefined,
  challenge: string | undefined,
  method: ChallengeMethod | undefined,
): Promise<void> {
  if (challenge === undefined) {
    if (verifier !== undefined) throw invalidGrant("code_verifier was sent but the authorization request had no code_challenge");
    return;
  }
  if (verifier === undefined) throw invalidGrant("code_verifier is required: the authorization request used PKCE");
  if (!PKCE_VALUE.test(verifier)) throw invalidGrant("code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~");
  if (!(await constantTimeEqual(await challengeFor(verifier, method ?? "plain"), challenge))) {
    throw invalidGrant("code_verifier does not match the code_challenge");
  }
}

export function pkceRequiredFor(clientType: "confidential" | "public", settings: Settings): boolean {
  return clientType === "public" || settings.PKCE_REQUIRED === "all";
}
