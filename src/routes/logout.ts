import type { Context } from "hono";
import { signedInAccount } from "../session/signed-in";
import { OAuthError } from "../oauth/errors";
import { parseParams, readFormBody } from "../oauth/form";
import { checkLogoutRequest, postLogoutLocation, type LogoutRequest } from "../oidc/logout";
import { revokeUserClientTokens } from "../tokens/revocation";
import { checkCsrf, csrfToken, CSRF_FIELD, endSession, readSession } from "../session/cookies";
import { randomToken } from "../core/crypto";
import { frontChannelParties } from "../db/session-clients";
import { sendLogoutTokensAfterResponse } from "../oidc/backchannel-logout";
import { frontChannelFrames, frontChannelPolicy } from "../oidc/frontchannel-logout";
import { FrontChannelLogoutPage } from "../views/frontchannel-logout-page";
import type { ProviderEnv } from "../types";
import { sendErrorPage } from "../views/error-page";
import { sendPage, setPageHeaders, withDoctype } from "../views/render";

type Ctx = Context<ProviderEnv>;

/** The confirm form's own fields: their presence makes a POST the user's decision, which needs the CSRF token. */
const CONFIRM_FIELDS = [CSRF_FIELD, "logout"];

/** Asks the user to confirm, naming the client; the form carries the request back. */
async function showConfirm(c: Ctx, request: LogoutRequest, status: 200 | 403 = 200): Promise<Response> {
  const settings = c.get("settings");
  const token = await csrfToken(c, c.var.secret(), settings.SESSION_COOKIE_AGE_SECONDS);
  // Only shows who is signed in: a replica as new as the cookie's bookmark will do.
  const signedIn = await signedInAccount(c, c.var, { from: "nearby" });
  const html = c.get("pages").logout(
    {
      action: `${c.get("basePath")}/logout/`,
      hidden: { ...request.fields, [CSRF_FIELD]: token },
      username: signedIn?.account.username,
      clientName: request.client?.name,
    },
    c,
  );
  return sendPage(c, html, status);
}

/**
 * Ends the session (and, when configured, the user's tokens of the client that asked); its clients
 * with a back-channel logout URI are sent logout tokens after the response. Returns the addresses
 * to frame for the clients with a front-channel logout URI.
 */
async function signOut(c: Ctx, request: LogoutRequest): Promise<string[]> {
  const settings = c.get("settings");
  if (settings.REVOKE_TOKENS_ON_LOGOUT && request.client) {
    const signedIn = await signedInAccount(c, c.var);
    if (signedIn) {
      const revoked = await revokeUserClientTokens({ db: c.get("db"), kv: c.get("kv"), settings }, signedIn.account.id, request.client.id);
      if (revoked > 0) c.get("emit")({ type: "token.revoked", clientId: request.client.id, tokenType: "refresh_token" });
    }
  }
  const session = await readSession(c, c.var.secret());
  const frames = session ? frontChannelFrames(await frontChannelParties(c.get("db"), session.sid)) : [];
  await endSession(c, c.get("db"), session);
  if (session) sendLogoutTokensAfterResponse(c, [session.sid]);
  return frames;
}

/**
 * Back to the client when it asked for it (even if nobody was signed in: the RP needs it), else a
 * message; through the front-channel page first when clients are to be framed.
 */
function afterSignOut(c: Ctx, request: LogoutRequest, frames: string[]): Promise<Response> | Response {
  const next = request.postLogoutRedirectUri ? postLogoutLocation(request.postLogoutRedirectUri, request.state) : undefined;
  if (frames.length > 0) {
    const nonce = randomToken(16);
    setPageHeaders(c);
    c.header("Content-Security-Policy", frontChannelPolicy(frames, nonce));
    return c.html(withDoctype(String(FrontChannelLogoutPage({ frames, next, nonce }))));
  }
  if (next) {
    c.header("Cache-Control", "no-store");
    return c.redirect(next, 303);
  }
  return sendPage(c, c.get("pages").message({ title: "Signed out", message: "You have been signed out." }, c));
}

function errorPage(c: Ctx, err: unknown): Promise<Response> {
  if (err instanceof OAuthError) return sendErrorPage(c, err);
  throw err;
}

/** `GET /o/logout/` (RP-Initiated Logout 1.0 §2): checks the request and asks the user to confirm; a GET never signs anyone out. */
export async function logoutGet(c: Ctx): Promise<Response> {
  try {
    const params = parseParams(new URL(c.req.url).search.slice(1));
    return await showConfirm(c, await checkLogoutRequest(c.var, params));
  } catch (err) {
    return errorPage(c, err);
  }
}

/** `POST /o/logout/`: a logout request POSTed by the RP (confirm first), or the confirm form's decision. */
export async function logoutPost(c: Ctx): Promise<Response> {
  const settings = c.get("settings");
  try {
    const params = await readFormBody(c.req.raw, settings.MAX_BODY_BYTES);
    const request = await checkLogoutRequest(c.var, params);
    if (!CONFIRM_FIELDS.some((name) => params.has(name))) return await showConfirm(c, request);
    if (!(await checkCsrf(c, c.var.secret(), params.get(CSRF_FIELD)))) return await showConfirm(c, request, 403);
    return await afterSignOut(c, request, await signOut(c, request));
  } catch (err) {
    return errorPage(c, err);
  }
}
