import type { Context } from "hono";
import { getCookie, setCookie, deleteCookie } from "hono/cookie";
import { base64url } from "../core/crypto";
import type { Settings } from "../core/settings";
import { macKey } from "../tokens/secret-keys";

/**
 * The OP browser state of OpenID Connect Session Management 1.0: a cookie the check-session
 * iframe's script reads, whose value changes whenever the user signs in or out. Its value is the
 * HMAC of the session id, so the server derives it from the session (no storage) and nobody can
 * forge one for a session they do not hold. It is readable by scripts (not HttpOnly) because the
 * iframe must read it; it proves nothing and opens nothing: the session cookie is the credential.
 */

/**
 * The cookie's name. On https `__Host-`, as the session cookie: only this host sets it. The
 * check-session page is told the same name (`browserStateCookie(secure)`).
 */
export const browserStateCookie = (secure: boolean) => (secure ? "__Host-eot_browser_state" : "eot_browser_state");

/** Whether SESSION_MANAGEMENT is on for this request (the provider puts its settings on the context). */
function sessionManagementOn(c: Context): boolean {
  const settings = c.get("settings") as Settings | undefined;
  return settings?.SESSION_MANAGEMENT !== false;
}

/** The browser state of the session `sid`: HMAC-SHA-256 under a key of its own, base64url. */
export async function browserStateOf(secret: string, sid: string): Promise<string> {
  const mac = await crypto.subtle.sign("HMAC", await macKey(secret, "browser-state"), new TextEncoder().encode(sid));
  return base64url(new Uint8Array(mac));
}

/**
 * The attributes: the iframe runs on the client's page, a third-party context on https, so
 * `SameSite=None` (which needs `Secure`); on http://localhost, where `Secure` cannot be set, the
 * client's other localhost ports are the same site and `Lax` reaches them.
 */
function attributes(secure: boolean, maxAge: number) {
  return { path: "/", httpOnly: false, secure, sameSite: secure ? ("None" as const) : ("Lax" as const), maxAge };
}

/** Sets the cookie for the session `sid`, lasting as long as the session (nothing when SESSION_MANAGEMENT is off). */
export async function setBrowserState(c: Context, secure: boolean, secret: string, sid: string, maxAge: number): Promise<string | undefined> {
  if (!sessionManagementOn(c)) return undefined;
  const value = await browserStateOf(secret, sid);
  setCookie(c, browserStateCookie(secure), value, attributes(secure, maxAge));
  return value;
}

/**
 * The browser state of a signed-in session, setting the cookie when the browser lacks it or holds
 * another value (a session started before this cookie existed).
 */
export async function ensureBrowserState(
  c: Context,
  secure: boolean,
  secret: string,
  session: { sid: string; expiresAt: number },
  now: number,
): Promise<string> {
  const value = await browserStateOf(secret, session.sid);
  const maxAge = session.expiresAt - now;
  if (getCookie(c, browserStateCookie(secure)) !== value && maxAge > 0) {
    setCookie(c, browserStateCookie(secure), value, attributes(secure, maxAge));
  }
  return value;
}

/** Signing out changes the state: the cookie goes (the iframe then sees no value). */
export function clearBrowserState(c: Context, secure: boolean): void {
  if (!sessionManagementOn(c)) return;
  deleteCookie(c, browserStateCookie(secure), { path: "/", secure });
}
