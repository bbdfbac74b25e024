import type { Context } from "hono";
import { findAuthorization, listAuthorizations, type Authorization } from "../db/authorizations";
import { OAuthError } from "../oauth/errors";
import { readFormBody } from "../oauth/form";
import { describeScope } from "../oauth/scope";
import { revokeAuthorization } from "../tokens/authorizations";
import { checkCsrf, csrfToken, CSRF_FIELD } from "../session/cookies";
import { signedInAccount, type SignedIn } from "../session/signed-in";
import { nowSeconds } from "../core/time";
import type { ProviderEnv } from "../types";
import { AuthorizedTokensPage, RevokeAuthorizationPage, type AuthorizedAppView } from "../views/account-pages";
import { sendErrorPage } from "../views/error-page";
import { sendPage, type HtmlContent } from "../views/render";

type Ctx = Context<ProviderEnv>;

/** Set on the list's URL after a revocation, to say it happened. */
const REVOKED_PARAM = "revoked";

const listPath = (c: Ctx) => `${c.get("basePath")}/authorized_tokens/`;
const revokePath = (c: Ctx, clientId: string) => `${listPath(c)}${encodeURIComponent(clientId)}/delete/`;

/** To the login page, and back to `path` afterwards (login's `safeNext` allows the account pages). */
function toLogin(c: Ctx, path: string): Response {
  return c.redirect(`${c.get("basePath")}/login/?${new URLSearchParams({ next: path }).toString()}`, 303);
}

/**
 * The signed-in user, read at the primary: the list must show a revocation made a moment ago,
 * and a revocation must act for the user the session names now.
 */
const currentUser = (c: Ctx): Promise<SignedIn | undefined> => signedInAccount(c, c.var);

function appView(c: Ctx, authorization: Authorization): AuthorizedAppView {
  const settings = c.get("settings");
  return {
    clientId: authorization.clientId,
    clientName: authorization.clientName,
    scopes: authorization.scopes.map((name) => ({ name, description: describeScope(name, settings) })),
    authorizedAt: authorization.authorizedAt,
    lastIssuedAt: authorization.lastIssuedAt ?? undefined,
    revokeUrl: revokePath(c, authorization.clientId),
  };
}

const NOT_AUTHORIZED = { error: "not_found", description: "You have not authorized this application.", status: 404 } as const;

/** `GET /o/authorized_tokens/`: the applications the signed-in user has authorized. */
export async function authorizedTokensList(c: Ctx): Promise<Response> {
  const signedIn = await currentUser(c);
  if (!signedIn) return toLogin(c, listPath(c));
  const authorizations = await listAuthorizations(c.get("db"), signedIn.account.id, nowSeconds());
  const notice = c.req.query(REVOKED_PARAM) === undefined ? undefined : "Access revoked: that application can no longer use your account.";
  const html = AuthorizedTokensPage({ username: signedIn.account.username, apps: authorizations.map((a) => appView(c, a)), notice });
  return sendPage(c, html as HtmlContent);
}

async function showRevokeConfirmation(c: Ctx, authorization: Authorization, status: 200 | 403 = 200, error?: string): Promise<Response> {
  const token = await csrfToken(c, c.var.secret(), c.get("settings").SESSION_COOKIE_AGE_SECONDS);
  const html = RevokeAuthorizationPage({
    app: appView(c, authorization),
    action: revokePath(c, authorization.clientId),
    hidden: { [CSRF_FIELD]: token },
    cancelUrl: listPath(c),
    error,
  });
  return sendPage(c, html as HtmlContent, status);
}

/** The user's authorization of the path's client, or undefined (shown as 404) when they hold none. */
function authorizationOf(c: Ctx, signedIn: SignedIn): Promise<Authorization | undefined> {
  return findAuthorization(c.get("db"), signedIn.account.id, c.req.param("clientId") ?? "", nowSeconds());
}

/** `GET /o/authorized_tokens/{client_id}/delete/`: asks before revoking; a GET never revokes. */
export async function revokeAuthorizationGet(c: Ctx): Promise<Response> {
  const clientId = c.req.param("clientId") ?? "";
  const signedIn = await currentUser(c);
  if (!signedIn) return toLogin(c, revokePath(c, clientId));
  const authorization = await authorizationOf(c, signedIn);
  if (!authorization) return sendErrorPage(c, NOT_AUTHORIZED);
  return showRevokeConfirmation(c, authorization);
}

/**
 * `POST /o/authorized_tokens/{client_id}/delete/`: revokes the user's tokens of the client and
 * forgets the consent, then back to the list.
 */
export async function revokeAuthorizationPost(c: Ctx): Promise<Response> {
  const settings = c.get("settings");
  const signedIn = await currentUser(c);
  if (!signedIn) return toLogin(c, listPath(c));
  let submitted: string | undefined;
  try {
    submitted = (await readFormBody(c.req.raw, settings.MAX_BODY_BYTES)).get(CSRF_FIELD);
  } catch (err) {
    if (err instanceof OAuthError) return sendErrorPage(c, err);
    throw err;
  }
  const authorization = await authorizationOf(c, signedIn);
  if (!authorization) return sendErrorPage(c, NOT_AUTHORIZED);
  if (!(await checkCsrf(c, c.var.secret(), submitted))) {
    return showRevokeConfirmation(c, authorization, 403, "The form expired or did not come from this site. Please try again.");
  }
  const userId = signedIn.account.id;
  await revokeAuthorization({ db: c.get("db"), kv: c.get("kv") }, userId, authorization.clientId, settings);
  c.get("emit")({ type: "authorization.revoked", clientId: authorization.clientId, userId });
  return c.redirect(`${listPath(c)}?${REVOKED_PARAM}=1`, 303);
}
