import type { Context } from "hono";
import { browserStateCookie } from "../session/browser-state";
import { isSecureContext } from "../session/cookies";
import type { ProviderEnv } from "../types";
import { checkSessionPage } from "../views/check-session-page";

/**
 * `GET /o/check_session/`: the check-session iframe (OpenID Connect Session Management 1.0 §3.3),
 * 404 when SESSION_MANAGEMENT is off. Unlike every other page it may be framed by any site
 * (`frame-ancestors *`, no X-Frame-Options): clients frame it on their own pages. That is safe
 * because it has no UI and no action: nothing to click, no form, no cookie sent anywhere; it only
 * answers whether a session_state still matches the browser-state cookie, which is no secret.
 * The same for everyone, so it is cached.
 */
export async function checkSessionEndpoint(c: Context<ProviderEnv>): Promise<Response> {
  if (!c.get("settings").SESSION_MANAGEMENT) return c.notFound();
  const page = await checkSessionPage(browserStateCookie(isSecureContext(c)));
  return c.html(page.html, 200, {
    "Cache-Control": "public, max-age=300",
    "Content-Security-Policy": `default-src 'none'; script-src ${page.scriptHash}; frame-ancestors *; base-uri 'none'; form-action 'none'`,
    "Referrer-Policy": "no-referrer",
  });
}
