import type { Context } from "hono";
import { signedInAccount } from "../authorization/signed-in";
import { OAuthError } from "../oauth/errors";
import { readFormBody, type Params } from "../oauth/form";
import { checkCsrf, csrfToken, CSRF_FIELD, endSession } from "../session";
import { requireSecretKey } from "../tokens/secret-keys";
import type { ProviderEnv } from "../types";
import { sendPage } from "../views/render";

type Ctx = Context<ProviderEnv>;

async function showLogout(c: Ctx, status: 200 | 400 | 403 = 200) {
  const settings = c.get("settings");
  const token = await csrfToken(c, requireSecretKey(settings.SECRET_KEY), settings.SESSION_COOKIE_AGE_SECONDS);
  const signedIn = await signedInAccount(c);
  const html = c.get("pages").logout(
    { action: `${c.get("basePath")}/logout/`, hidden: { [CSRF_FIELD]: token }, username: signedIn?.account.username },
    c,
  );
  return sendPage(c, html, status);
}

/** `GET /o/logout/`: asks the user to confirm (a GET must not sign anyone out: it could be forged). */
export function logoutGet(c: Ctx): Promise<Response> {
  return showLogout(c);
}

/** `POST /o/logout/`: ends the session. */
export async function logoutPost(c: Ctx): Promise<Response> {
  const settings = c.get("settings");
  let params: Params;
  try {
    params = await readFormBody(c.req.raw, settings.MAX_BODY_BYTES);
  } catch (err) {
    if (err instanceof OAuthError) return showLogout(c, 400);
    throw err;
  }
  if (!(await checkCsrf(c, requireSecretKey(settings.SECRET_KEY), params.get(CSRF_FIELD)))) return showLogout(c, 403);
  endSession(c);
  return sendPage(c, c.get("pages").message({ title: "Signed out", message: "You have been signed out." }, c));
}
