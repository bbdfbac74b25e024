import type { Context } from "hono";
import { randomToken } from "../core/crypto";
import type { OAuthError } from "../oauth/errors";
import { appendQuery } from "../oauth/redirect-uri";
import { FormPostPage } from "../views/pages";
import { withDoctype } from "../views/render";
import type { ResponseTarget } from "./request";

/**
 * Sends an authorization response (success or error) to the client's redirect URI, in its
 * response mode, always with `iss` (RFC 9207) and the request's `state`.
 */
export function sendAuthorizationResponse(
  c: Context,
  target: ResponseTarget,
  issuer: string,
  values: Record<string, string | undefined>,
): Response | Promise<Response> {
  const fields: Record<string, string> = {};
  for (const [name, value] of Object.entries({ ...values, state: target.state, iss: issuer })) {
    if (value !== undefined) fields[name] = value;
  }
  c.header("Cache-Control", "no-store");
  if (target.responseMode === "form_post") {
    const nonce = randomToken(16);
    c.header(
      "Content-Security-Policy",
      `default-src 'none'; script-src 'nonce-${nonce}'; form-action ${new URL(target.redirectUri).origin}; frame-ancestors 'none'; base-uri 'none'`,
    );
    return c.html(withDoctype(String(FormPostPage({ action: target.redirectUri, fields, nonce }))));
  }
  const location =
    target.responseMode === "fragment"
      ? `${target.redirectUri}#${new URLSearchParams(fields).toString()}`
      : appendQuery(target.redirectUri, fields);
  // 303: the browser follows with GET, and never re-posts a form (RFC 9700 §4.11).
  return c.redirect(location, 303);
}

export function sendAuthorizationError(c: Context, target: ResponseTarget, issuer: string, err: OAuthError) {
  return sendAuthorizationResponse(c, target, issuer, { error: err.error, error_description: err.description });
}
