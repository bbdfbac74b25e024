import type { Account } from "../session/accounts";
import { verifyIdTokenHint } from "../oidc/id-token-hint";
import { subjectFor } from "../tokens/subject";
import type { Session } from "../session/cookies";
import type { ServerContext } from "../types";
import type { AuthorizationRequest } from "./request";
import { nowSeconds } from "../core/time";

/**
 * Internal parameter added to the authorization URL when the user is sent to sign in (again): a
 * random id for that sign-in. The login form records it in the new session's signed cookie, so
 * only a session started by that sign-in satisfies `prompt=login` and `max_age`: a client that
 * writes the parameter into a URL cannot also write the cookie.
 */
export const LOGIN_REQUEST_PARAM = "_login";

/** How long a sign-in counts as "just now" for the request it answered. */
const FRESH_SIGN_IN_SECONDS = 300;

/** Whether this session was started by the sign-in the request sent the user to, moments ago. */
function signedInForThisRequest(request: AuthorizationRequest, session: Session, now: number): boolean {
  const marker = request.params.get(LOGIN_REQUEST_PARAM);
  return marker !== undefined && session.signedInFor === marker && now - session.authTime <= FRESH_SIGN_IN_SECONDS;
}

/** The `sub` of an `id_token_hint`: an ID token we issued to this client; it may have expired (OIDC Core §3.1.2.1). */
async function hintedSubject(ctx: ServerContext, request: AuthorizationRequest, hint: string): Promise<string> {
  const verified = await verifyIdTokenHint(await ctx.keys(), ctx.issuer, hint, request.client.id);
  return verified.sub;
}

/** OIDC Core §5.5.1: a `sub` value asked for in the ID token means only that user may be answered for. */
function requestedSubject(request: AuthorizationRequest): string | undefined {
  const value = request.claims?.id_token?.sub?.value;
  return typeof value === "string" ? value : undefined;
}

/**
 * Why the user must (again) sign in before this request can be answered, or undefined:
 * no session, `prompt=login`/`select_account`, an exceeded `max_age`, or an `id_token_hint`
 * (or a `sub` value in the claims parameter) naming another user.
 */
export async function whyLoginIsNeeded(
  ctx: ServerContext,
  request: AuthorizationRequest,
  signedIn: { session: Session; account: Account } | undefined,
): Promise<string | undefined> {
  const hintSub = request.params.get("id_token_hint");
  const expectedSub = hintSub !== undefined ? await hintedSubject(ctx, request, hintSub) : undefined;
  if (!signedIn) return "the user is not signed in";

  const now = nowSeconds();
  if (!signedInForThisRequest(request, signedIn.session, now)) {
    if (request.prompt.includes("login") || request.prompt.includes("select_account")) return "the client asked the user to sign in again";
    const age = now - signedIn.session.authTime;
    if (request.maxAge !== undefined && age > request.maxAge) return "the sign-in is older than max_age";
  }
  const claimedSub = requestedSubject(request);
  if (expectedSub === undefined && claimedSub === undefined) return undefined;
  const subject = await subjectFor(request.client, signedIn.account.id, ctx.settings.SECRET_KEY);
  if (expectedSub !== undefined && expectedSub !== subject) return "id_token_hint names another user";
  if (claimedSub !== undefined && claimedSub !== subject) return "the claims parameter asks for another user";
  return undefined;
}
