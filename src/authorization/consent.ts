import type { Approval } from "../db/consents";
import { claimsBeyondScopes } from "../oidc/claims";
import type { Settings } from "../core/settings";
import type { AuthorizationRequest } from "./request";

/** What answering this request releases, and so what the user approves on the consent page. */
export function approvalFor(request: AuthorizationRequest): Approval {
  return {
    scopes: request.scope,
    claims: claimsBeyondScopes(request.claims, request.scope),
    redirectUris: [request.redirectUri],
    // A request naming no resource is for the default audience, which every approval covers.
    resources: request.resourcesNamed ? request.resources : [],
  };
}

/**
 * Whether an earlier approval covers this request: its scopes, claims and named resources (a
 * token for another API is another decision of the user's); and for a public
 * client, which anyone can claim to be, the very redirect URI the user approved (RFC 8252 §8.6:
 * a local program on another loopback port must not be answered without the user).
 */
export function isCoveredBy(request: AuthorizationRequest, approval: Approval): boolean {
  const wanted = approvalFor(request);
  if (!wanted.scopes.every((s) => approval.scopes.includes(s))) return false;
  if (!wanted.claims.every((name) => approval.claims.includes(name))) return false;
  if (!wanted.resources.every((resource) => approval.resources.includes(resource))) return false;
  return request.client.clientType !== "public" || approval.redirectUris.includes(request.redirectUri);
}

/**
 * A client registered with `skip_authorization` is answered without a consent page; a public
 * one only on a redirect URI registered exactly as requested (no loopback port variance).
 */
function skipsConsent(request: AuthorizationRequest): boolean {
  if (!request.client.skipAuthorization) return false;
  return request.client.clientType !== "public" || request.client.redirectUris.includes(request.redirectUri);
}

export type ConsentStep = "grant" | "ask" | "consent_required";

/**
 * DOT's approval prompt: `force` (its default) shows the consent page whenever a page can be
 * shown; `auto` skips it when an earlier approval covers the request. `prompt=consent` always
 * asks; `prompt=none` and `skip_authorization` clients use what was approved before.
 */
export function consentStep(request: AuthorizationRequest, approval: Approval, settings: Settings): ConsentStep {
  if (request.prompt.includes("consent")) return "ask";
  if (skipsConsent(request)) return "grant";
  const covered = isCoveredBy(request, approval);
  if (request.prompt.includes("none")) return covered ? "grant" : "consent_required";
  const mode = request.approvalPrompt ?? settings.REQUEST_APPROVAL_PROMPT;
  return mode === "auto" && covered ? "grant" : "ask";
}

/**
 * Whether answering this request could issue a code or tokens without the user's decision on a
 * consent page (`consentStep` could be "grant"), judged before anything is read: then the session,
 * the user and the approval must be current, read at the D1 primary. Otherwise the request ends
 * on a page (consent, sign-in) or an error, which a replica's lag cannot make unsafe.
 */
export function mayAnswerWithoutAsking(request: AuthorizationRequest, settings: Settings): boolean {
  if (request.prompt.includes("consent")) return false;
  if (skipsConsent(request) || request.prompt.includes("none")) return true;
  return (request.approvalPrompt ?? settings.REQUEST_APPROVAL_PROMPT) === "auto";
}
