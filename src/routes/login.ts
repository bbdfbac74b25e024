import type { Context } from "hono";
import { sendLogoutTokensAfterResponse } from "../oidc/backchannel-logout";
import { signInWithPassword } from "../session/accounts";
import { clientAddress } from "../core/client-address";
import { OAuthError } from "../oauth/errors";
import { readFormBody, type Params } from "../oauth/form";
import { LOGIN_REQUEST_PARAM } from "../authorization/authentication";
import { checkCsrf, credentialFingerprint, csrfToken, CSRF_FIELD, startSession } from "../session/cookies";
import type { ProviderEnv } from "../types";
import { sendPage } from "../views/render";

type Ctx = Context<ProviderEnv>;

/** The provider's pages a sign-in may go back to, as prefixes of paths under the base path. */
const NEXT_PAGES = ["/authorize/?", "/authorized_tokens/", "/applications/", "/admin/", "/device/"];

/**
 * Where to go back to after signing in: only the provider's own authorization endpoint and
 * account pages, as a relative path (no open redirect), without control characters or backslashes.
 */
function safeNext(c: Ctx, next: string | undefined): string | undefined {
  const basePath = c.get("basePath");
  if (next === undefined || !NEXT_PAGES.some((page) => next.startsWith(`${basePath}${page}`))) return undefined;
  if (hasDotSegment(next.split("?")[0]!)) return undefined;
  return /[\x00-\x1f\x7f\\]/.test(next) ? undefined : next;
}

/** `.` or `..` (also percent-encoded, which browsers resolve too): would lead out of the allowed pages. */
const hasDotSegment = (path: string) => path.split("/").some((segment) => /^(?:\.|%2e){1,2}$/i.test(segment));

/** The sign-in request id the authorization endpoint put in `next`, for the new session to record. */
function signInRequestOf(next: string | undefined): string | undefined {
  if (next === undefined) return undefined;
  return new URLSearchParams(next.slice(next.indexOf("?") + 1)).get(LOGIN_REQUEST_PARAM) ?? undefined;
}

async function showLogin(c: Ctx, next: string | undefined, status: 200 | 400 | 403 | 429 = 200, error?: string, username?: string) {
  const settings = c.get("settings");
  const token = await csrfToken(c, c.var.secret(), settings.SESSION_COOKIE_AGE_SECONDS);
  const hidden: Record<string, string> = { [CSRF_FIELD]: token };
  if (next) hidden.next = next;
  const html = c.get("pages").login({ action: `${c.get("basePath")}/login/`, hidden, error, username }, c);
  return sendPage(c, html, status);
}

/** `GET /o/login/`: the sign-in form. */
export function loginGet(c: Ctx): Promise<Response> {
  return showLogin(c, safeNext(c, c.req.query("next")), 200, undefined, c.req.query("login_hint"));
}

/** `POST /o/login/`: checks CSRF, throttling and the password, then starts the session. */
export async function loginPost(c: Ctx): Promise<Response> {
  const settings = c.get("settings");
  const db = c.get("db");
  const secret = c.var.secret();
  let params: Params;
  try {
    params = await readFormBody(c.req.raw, settings.MAX_BODY_BYTES);
  } catch (err) {
    if (err instanceof OAuthError) return showLogin(c, undefined, 400, err.description);
    throw err;
  }
  const next = safeNext(c, params.get("next"));
  if (!(await checkCsrf(c, secret, params.get(CSRF_FIELD)))) {
    return showLogin(c, next, 403, "The form expired or did not come from this site. Please try again.");
  }
  const username = params.get("username");
  const password = params.get("password");
  if (!username || !password) return showLogin(c, next, 400, "Enter your username and password.", username);
  const attempt = { via: "login_form" as const, address: clientAddress(c.req.raw.headers), emit: c.get("emit") };
  const account = await signInWithPassword(c.get("accounts"), db, settings, username, password, attempt);
  if (account === "locked") {
    return showLogin(c, next, 429, "Too many failed attempts. Please wait a few minutes and try again.", username);
  }
  // 400, not 401: a 401 must carry an HTTP authentication challenge (RFC 9110 §15.5.2), and a form is none.
  if (account === "invalid") return showLogin(c, next, 400, "Invalid username or password.", username);
  const fingerprint = await credentialFingerprint(secret, account.credentialVersion);
  const { ended } = await startSession(c, c.var.d1, secret, { id: account.id, fingerprint }, settings.SESSION_COOKIE_AGE_SECONDS, signInRequestOf(next));
  // Signing in again ends the browser's previous session: its relying parties are told (Back-Channel Logout).
  if (ended) sendLogoutTokensAfterResponse(c, [ended]);
  if (next) return c.redirect(next, 303);
  return sendPage(c, c.get("pages").message({ title: "Signed in", message: `You are signed in as ${account.username}.` }, c));
}
