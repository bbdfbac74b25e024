import type { Context } from "hono";
import type { Settings } from "../core/settings";
import { nowSeconds } from "../core/time";
import { sessionState, webOriginOf } from "../oidc/session-state";
import { ensureBrowserState } from "../session/browser-state";
import { isSecureContext, type Session } from "../session/cookies";
import type { AuthorizationRequest } from "./request";

/**
 * The `session_state` of a successful answer to an OpenID request (Session Management 1.0 §2),
 * when SESSION_MANAGEMENT is on and the redirect URI has a web origin. The browser-state cookie it
 * is computed from is set here too when the browser lacks it (a session older than the cookie).
 */
export async function sessionStateFor(
  c: Context,
  settings: Settings,
  secret: string,
  request: AuthorizationRequest,
  session: Session,
): Promise<string | undefined> {
  if (!settings.SESSION_MANAGEMENT || !request.scope.includes("openid")) return undefined;
  const origin = webOriginOf(request.redirectUri);
  if (!origin) return undefined;
  const browserState = await ensureBrowserState(c, isSecureContext(c), secret, session, nowSeconds());
  return sessionState(request.client.id, origin, browserState);
}
