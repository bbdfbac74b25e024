import { invalidRequest } from "../oauth/errors";
import type { ClaimRequest, ClaimsRequest } from "../tokens/claims-request";

/** OIDC Core §5.4: the claims each standard scope stands for. */
export const SCOPE_CLAIMS: Record<string, readonly string[]> = {
  profile: [
    "name", "family_name", "given_name", "middle_name", "nickname", "preferred_username", "profile",
    "picture", "website", "gender", "birthdate", "zoneinfo", "locale", "updated_at",
  ],
  email: ["email", "email_verified"],
  address: ["address"],
  phone: ["phone_number", "phone_number_verified"],
};


/** Claims about the user (as opposed to claims about the sign-in): each needs the user's consent. */
const USER_CLAIMS: readonly string[] = Object.values(SCOPE_CLAIMS).flat();

export const SUPPORTED_CLAIMS = ["sub", "iss", "auth_time", "amr", "sid", ...USER_CLAIMS];

/**
 * The user claims a `claims` request asks for (in the ID token or at UserInfo) that its scopes do
 * not already cover: the user must approve them as well (OIDC Core §5.5), so they are shown on the
 * consent page and stored with the consent.
 */
export function claimsBeyondScopes(claims: ClaimsRequest | undefined, scopes: readonly string[]): string[] {
  const covered = new Set(scopes.flatMap((scope) => SCOPE_CLAIMS[scope] ?? []));
  const requested = [...Object.keys(claims?.id_token ?? {}), ...Object.keys(claims?.userinfo ?? {})];
  return [...new Set(requested.filter((name) => USER_CLAIMS.includes(name) && !covered.has(name)))].sort();
}

const CLAIM_DESCRIPTIONS: Record<string, string> = {
  email: "Your email address",
  email_verified: "Whether your email address is verified",
  phone_number: "Your phone number",
  phone_number_verified: "Whether your phone number is verified",
  address: "Your postal address",
  birthdate: "Your date of birth",
  name: "Your name",
  given_name: "Your given name",
  family_name: "Your family name",
  picture: "Your picture",
};

/** How the consent page names a claim the client asks for beyond its scopes. */
export function describeClaim(name: string): string {
  return CLAIM_DESCRIPTIONS[name] ?? `Your ${name.replace(/_/g, " ")}`;
}


function checkMembers(members: unknown, where: string): Record<string, ClaimRequest | null> | undefined {
  if (members === undefined) return undefined;
  if (typeof members !== "object" || members === null || Array.isArray(members)) {
    throw invalidRequest(`claims.${where} must be a JSON object`);
  }
  for (const spec of Object.values(members)) {
    if (spec === null) continue;
    if (typeof spec !== "object" || Array.isArray(spec)) throw invalidRequest(`each member of claims.${where} must be null or an object`);
    const { essential, values } = spec as ClaimRequest;
    if (essential !== undefined && typeof essential !== "boolean") throw invalidRequest(`essential in claims.${where} must be a boolean`);
    if (values !== undefined && !Array.isArray(values)) throw invalidRequest(`values in claims.${where} must be an array`);
  }
  return members as Record<string, ClaimRequest | null>;
}

/** Checks the shape of the `claims` parameter (already parsed as a JSON object). */
export function checkClaimsRequest(claims: unknown): ClaimsRequest {
  const request = claims as Record<string, unknown>;
  return { userinfo: checkMembers(request.userinfo, "userinfo"), id_token: checkMembers(request.id_token, "id_token") };
}

/**
 * The claims to release: those of the granted scopes (when `withScopes`), plus the user claims
 * named in the `claims` request member (approved with the consent), each only when the user has it. A requested `value`/`values`
 * does not filter what is released: the RP checks it (OIDC Core §5.5.1).
 */
export function releaseClaims(
  available: Record<string, unknown>,
  scopes: readonly string[],
  requested: Record<string, ClaimRequest | null> | undefined,
  withScopes: boolean,
): Record<string, unknown> {
  const names = new Set<string>();
  if (withScopes) for (const scope of scopes) for (const name of SCOPE_CLAIMS[scope] ?? []) names.add(name);
  for (const name of Object.keys(requested ?? {})) if (USER_CLAIMS.includes(name)) names.add(name);
  const out: Record<string, unknown> = {};
  for (const name of names) {
    const value = available[name];
    if (value !== undefined && value !== null && value !== "") out[name] = value;
  }
  return out;
}
