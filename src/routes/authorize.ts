import type { Context } from "hono";
import { issueAuthorization } from "../authorization/issue";
import {
  checkAuthorizationRequest,
  checkClientAndRedirect,
  responseTarget,
  type AuthorizationRequest,
  type ResponseTarget,
} from "../authorization/request";
import { sendAuthorizationError, sendAuthorizationResponse } from "../authorization/response";
import { sessionStateFor } from "../authorization/session-state";
import { LOGIN_REQUEST_PARAM, whyLoginIsNeeded } from "../authorization/authentication";
import { openPushedRequest, REQUEST_URI_PREFIX, spendPushedRequest, type PushedRequest } from "../authorization/pushed-request";
import { approvalFor, consentStep, mayAnswerWithoutAsking } from "../authorization/consent";
import { signedInAccount } from "../session/signed-in";
import type { Account } from "../session/accounts";
import { randomToken } from "../core/crypto";
import { saveApproval } from "../db/consents";
import { openSession } from "../db/index";
import { accessDenied, consentRequired, invalidRequest, invalidRequestUri, loginRequired, OAuthError, serverError } from "../oauth/errors";
import { parseParams, readPageForm, type Params } from "../oauth/form";
import { describeScope } from "../oauth/scope";
import { describeClaim } from "../oidc/claims";
import { checkCsrf, csrfToken, CSRF_FIELD, rememberWrite, type Session } from "../session/cookies";
import { SettingsError } from "../core/settings";
import type { ProviderEnv } from "../types";
import { sendErrorPage } from "../views/error-page";
import { sendPage } from "../views/render";
import { logError } from "../core/log";

type Ctx = Context<ProviderEnv>;

/** Form fields that belong to the consent form itself, not to the authorization request. */
const DECISION_FIELDS = new Set([CSRF_FIELD, "allow", "cancel"]);

/** The authorization request's fields, every value of a repeated one (`resource`) in order. */
function requestFields(params: Params): [string, string][] {
  return [...params.entries()].filter(([name]) => !DECISION_FIELDS.has(name));
}

/** The fields as one value per name (the first), as pages' `hidden` carries them. */
const firstValues = (fields: [string, string][]): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const [name, value] of fields) out[name] ??= value;
  return out;
};

/**
 * The login page, returning to this request afterwards with a fresh sign-in id: only the session
 * that sign-in starts (which records the id in its signed cookie) satisfies `prompt=login` and `max_age`.
 */
function loginUrl(c: Ctx, request: AuthorizationRequest, carried: Params): string {
  const fields = requestFields(carried).filter(([name]) => name !== LOGIN_REQUEST_PARAM);
  fields.push([LOGIN_REQUEST_PARAM, randomToken(16)]);
  const next = `${c.get("basePath")}/authorize/?${new URLSearchParams(fields).toString()}`;
  const query = new URLSearchParams({ next });
  if (request.loginHint) query.set("login_hint", request.loginHint);
  return `${c.get("basePath")}/login/?${query.toString()}`;
}

/** RFC 9126 §4: a pushed request answers once; a second answer is refused on a page. */
const usedRequestUri = () => invalidRequestUri("request_uri was used already; push the request again");

async function grant(c: Ctx, request: AuthorizationRequest, account: Account, session: Session, spendPushed?: () => Promise<boolean>) {
  if (spendPushed && !(await spendPushed())) return sendErrorPage(c, usedRequestUri());
  c.get("emit")({ type: "authorization.granted", clientId: request.client.id, userId: account.id, scope: request.scope });
  const values = await issueAuthorization(c.var, request, account, session);
  const sessionState = await sessionStateFor(c, c.get("settings"), c.var.secret(), request, session);
  return sendAuthorizationResponse(c, request, c.get("issuer"), { ...values, session_state: sessionState });
}

async function showConsent(c: Ctx, request: AuthorizationRequest, account: Account, carried: Params) {
  const settings = c.get("settings");
  const token = await csrfToken(c, c.var.secret(), settings.SESSION_COOKIE_AGE_SECONDS);
  // What the user approves here: the request's named resources (checked: each once) and its claims beyond the scopes.
  const asked = approvalFor(request);
  const html = c.get("pages").consent(
    {
      action: `${c.get("basePath")}/authorize/`,
      hidden: { ...firstValues(requestFields(carried)), [CSRF_FIELD]: token },
      resources: asked.resources,
      client: { id: request.client.id, name: request.client.name, source: request.client.source },
      user: { id: account.id, username: account.username },
      scopes: request.scope.map((name) => ({ name, description: describeScope(name, settings) })),
      claims: asked.claims.map((name) => ({ name, description: describeClaim(name) })),
      logoutAction: `${c.get("basePath")}/logout/`,
    },
    c,
  );
  return sendPage(c, html);
}

/**
 * The authorization pipeline, for GET (and POSTed requests, OIDC Core §3.1.2.1) and for the
 * consent form's decision. Read it as the list of checks the RFCs make, in their order.
 */
async function authorize(c: Ctx, incoming: Params, decision: boolean, atPrimary = false): Promise<Response> {
  const db = c.get("db");
  const settings = c.get("settings");
  const issuer = c.get("issuer");

  // RFC 9126 §4: a pushed request (request_uri and client_id) stands for the whole request; the
  // sign-in and consent forms carry request_uri on, and it is spent when the answer is given.
  // Any other request_uri (a request object by reference) is refused as before: request_uri_not_supported.
  let pushed: PushedRequest | undefined;
  if (incoming.get("request_uri")?.startsWith(REQUEST_URI_PREFIX)) {
    try {
      pushed = await openPushedRequest(c.var.secret(), incoming);
    } catch (err) {
      if (err instanceof OAuthError) return sendErrorPage(c, err);
      throw err;
    }
  }
  const params = pushed?.params ?? incoming;
  const carried = pushed?.carried ?? incoming;
  // Spent once per answer, however the answer ends (a code, or an error for the client after a failed issue).
  let spending: Promise<boolean> | undefined;
  const spendPushed = pushed ? () => (spending ??= spendPushedRequest(db, pushed)) : undefined;

  let trusted;
  try {
    trusted = await checkClientAndRedirect(db, settings, params);
  } catch (err) {
    if (err instanceof OAuthError) return sendErrorPage(c, err);
    throw err;
  }

  const target: ResponseTarget & { modeError?: OAuthError } = responseTarget(params, trusted.redirectUri);
  try {
    if (target.modeError) throw target.modeError;
    // RFC 9126 §5, §6: once the client and redirect URI are trusted, a request that should have been pushed goes back as invalid_request.
    if (!pushed && (settings.REQUIRE_PUSHED_AUTHORIZATION_REQUESTS || trusted.client.requirePushedAuthorizationRequests)) {
      throw invalidRequest("authorization requests must be pushed to the PAR endpoint first (RFC 9126)");
    }
    const request = checkAuthorizationRequest(params, settings, trusted, target, c.get("audience"));

    // Near the user (a D1 replica, as new as the cookie's bookmark) when the answer can only be a
    // page; at the primary when it may issue a code or tokens, or is the user's decision.
    const nearby = !atPrimary && !decision && !mayAnswerWithoutAsking(request, settings);
    const signedIn = await signedInAccount(c, c.var, { clientId: request.client.id, from: nearby ? "nearby" : "primary" });
    const loginNeeded = await whyLoginIsNeeded(c.var, request, signedIn);
    if (loginNeeded || !signedIn) {
      if (request.prompt.includes("none")) throw loginRequired(loginNeeded ?? "the user is not signed in");
      return c.redirect(loginUrl(c, request, carried), 303);
    }
    const { account, session, approval } = signedIn;

    if (decision) {
      if (!(await checkCsrf(c, c.var.secret(), params.get(CSRF_FIELD)))) {
        return sendErrorPage(c, new OAuthError("invalid_request", "the form has expired or did not come from this site; go back and try again", 403));
      }
      if (params.get("allow") === undefined) {
        c.get("emit")({ type: "authorization.denied", clientId: request.client.id, userId: account.id });
        throw accessDenied("the user denied the request");
      }
      // Written through a D1 session so that the cookie can carry the write's bookmark: the next
      // requests of this browser then read a replica that has this approval.
      const writer = openSession(c.var.d1, "first-primary");
      await saveApproval(writer.db, account.id, request.client.id, approvalFor(request), approval);
      await rememberWrite(c, c.var.secret(), session, writer.bookmark());
      return await grant(c, request, account, session, spendPushed);
    }

    const step = consentStep(request, approval, settings);
    // Not taken while mayAnswerWithoutAsking matches consentStep; should they ever disagree,
    // nothing is issued on a replica's word: the request is answered again from the primary.
    if (step === "grant" && nearby) return await authorize(c, incoming, decision, true);
    if (step === "grant") return await grant(c, request, account, session, spendPushed);
    if (step === "consent_required") throw consentRequired("the user has not approved this request");
    return await showConsent(c, request, account, carried);
  } catch (err) {
    if (err instanceof OAuthError) {
      // An error for the client is the pushed request's answer too: it is spent as a code would be.
      if (spendPushed && !(await spendPushed())) return sendErrorPage(c, usedRequestUri());
      return sendAuthorizationError(c, target, issuer, err);
    }
    if (err instanceof SettingsError) {
      // RFC 6749 §4.1.2.1: once the redirect URI is trusted, even server_error goes to the client.
      logError("server misconfigured", { detail: err.message });
      return sendAuthorizationError(c, target, issuer, serverError("the server is misconfigured"));
    }
    throw err;
  }
}

/** `GET /o/authorize/`: validate, sign in if needed, then ask for consent or answer at once. */
export function authorizeGet(c: Ctx): Promise<Response> {
  const search = new URL(c.req.url).search.slice(1);
  let params: Params;
  try {
    params = parseParams(search);
  } catch (err) {
    if (err instanceof OAuthError) return sendErrorPage(c, err);
    throw err;
  }
  return authorize(c, params, false);
}

/** `POST /o/authorize/`: the consent form's decision (it carries the CSRF token), or a POSTed request. */
export async function authorizePost(c: Ctx): Promise<Response> {
  const params = await readPageForm(c);
  if (params instanceof Response) return params;
  // Any consent-form field makes it a decision, which then needs a valid CSRF token.
  return authorize(c, params, [...DECISION_FIELDS].some((name) => params.has(name)));
}
