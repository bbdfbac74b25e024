import { jwtVerify } from "jose";
import type { Account } from "../accounts";
import { invalidRequest } from "../oauth/errors";
import { subjectFor } from "../oidc/subject";
import type { Session } from "../session";
import type { KeyRing } from "../tokens/keys";
import type { AuthorizationRequest } from "./request";

/**
 * Internal parameter added to the authorization URL when the user is sent to sign in (again):
 * the id of the session that was not good enough. Any other session, necessarily a newer one
 * since signing in starts a new session, satisfies `prompt=login` and `max_age`.
 */
export const REAUTH_PARAM = "_reauth";

export interface AuthenticationCheck {
  request: AuthorizationRequest;
  signedIn: { session: Session; account: Account } | undefined;
  keys: () => Promise<KeyRing>;
  issuer: string;
  secret: string | undefined;
}

/** The `sub` of an `id_token_hint`: an ID token we issued to this client; it may have expired (OIDC Core §3.1.2.1). */
async function hintedSubject(check: AuthenticationCheck, hint: string): Promise<string> {
  const ring = await check.keys();
  try {
    const { payload } = await jwtVerify(
      hint,
      (header) => {
        const key = ring.keys.find((k) => k.kid === header.kid && k.alg === header.alg);
        if (!key) throw new Error("unknown key");
        return key.verifyKey;
      },
      { issuer: check.issuer, audience: check.request.client.id, clockTolerance: 10 * 365 * 24 * 3600 },
    );
    if (typeof payload.sub !== "string") throw new Error("no sub");
    return payload.sub;
  } catch {
    throw invalidRequest("id_token_hint is not an ID token this server issued to this client");
  }
}

/**
 * Why the user must (again) sign in before this request can be answered, or undefined:
 * no session, `prompt=login`/`select_account`, an exceeded `max_age`, or an `id_token_hint`
 * naming another user.
 */
export async function whyLoginIsNeeded(check: AuthenticationCheck): Promise<string | undefined> {
  const { request, signedIn } = check;
  const hintSub = request.params.get("id_token_hint");
  const expectedSub = hintSub !== undefined ? await hintedSubject(check, hintSub) : undefined;
  if (!signedIn) return "the user is not signed in";

  const replaced = request.params.get(REAUTH_PARAM);
  const freshlySignedIn = replaced !== undefined && replaced !== signedIn.session.sid;
  if (!freshlySignedIn) {
    if (request.prompt.includes("login") || request.prompt.includes("select_account")) return "the client asked the user to sign in again";
    const age = Math.floor(Date.now() / 1000) - signedIn.session.authTime;
    if (request.maxAge !== undefined && age > request.maxAge) return "the sign-in is older than max_age";
  }
  if (expectedSub !== undefined && expectedSub !== (await subjectFor(request.client, signedIn.account.id, check.secret))) {
    return "id_token_hint names another user";
  }
  return undefined;
}
