import type { Context } from "hono";
import { clientAddress } from "../core/client-address";
import { nowSeconds } from "../core/time";
import { findClient } from "../db/clients";
import { approvalQuery, saveApproval, toApproval } from "../db/consents";
import {
  decideDeviceAuthorization,
  findPendingByUserCode,
  takeBackUserCodeAttempt,
  userCodeThrottleKeys,
} from "../db/device-authorizations";
import type { DeviceAuthorization } from "../db/schema";
import { countSignInAttempt, lockOf } from "../db/throttle";
import { readPageForm } from "../oauth/form";
import { describeScope } from "../oauth/scope";
import { DEVICE_VERIFICATION_PATH, formatUserCode, normalizeUserCode } from "../oauth/user-code";
import { checkCsrf, csrfToken, CSRF_FIELD } from "../session/cookies";
import { signedInAccount, type SignedIn } from "../session/signed-in";
import type { ProviderEnv } from "../types";
import { sendPage } from "../views/render";

type Ctx = Context<ProviderEnv>;

/**
 * Wrong user codes one signed-in user may enter from one address, and from all addresses
 * together, per LOGIN_LOCKOUT_SECONDS, before the page stops looking codes up for them. With
 * 20^8 possible codes, 20 guesses per window give an attacker a negligible chance.
 */
export const USER_CODE_MAX_FAILURES = 5;
export const USER_CODE_MAX_FAILURES_PER_USER = 20;

const pagePath = (c: Ctx) => `${c.get("basePath")}${DEVICE_VERIFICATION_PATH}`;

/** To the login page, and back here afterwards (login's NEXT_PAGES allows this page), with the code if it looks like one. */
function toLogin(c: Ctx, userCode: string | undefined): Response {
  const code = normalizeUserCode(userCode);
  const next = code ? `${pagePath(c)}?${new URLSearchParams({ user_code: formatUserCode(code) }).toString()}` : pagePath(c);
  return c.redirect(`${c.get("basePath")}/login/?${new URLSearchParams({ next }).toString()}`, 303);
}

async function showEntry(c: Ctx, signedIn: SignedIn, options: { userCode?: string; error?: string; status?: 200 | 400 | 403 | 429 } = {}) {
  const token = await csrfToken(c, c.var.secret(), c.get("settings").SESSION_COOKIE_AGE_SECONDS);
  const props = {
    action: pagePath(c),
    hidden: { [CSRF_FIELD]: token },
    userCode: options.userCode,
    username: signedIn.account.username,
    error: options.error,
  };
  const html = c.get("pages").deviceCode(props, c);
  return sendPage(c, html, options.status ?? 200);
}

/** What the device asks for, and the code to compare with the one on the device (RFC 8628 §5.4). */
async function showConfirmation(c: Ctx, signedIn: SignedIn, device: DeviceAuthorization): Promise<Response> {
  const settings = c.get("settings");
  const client = await findClient(c.get("db"), device.clientId);
  if (!client) return showEntry(c, signedIn, { error: NO_SUCH_CODE, status: 400 });
  const token = await csrfToken(c, c.var.secret(), settings.SESSION_COOKIE_AGE_SECONDS);
  const shown = formatUserCode(device.userCode);
  const props = {
    action: pagePath(c),
    hidden: { [CSRF_FIELD]: token, user_code: shown },
    userCode: shown,
    client: { id: client.id, name: client.name, source: client.source },
    scopes: device.scope.split(" ").filter(Boolean).map((name) => ({ name, description: describeScope(name, settings) })),
    resources: namedResources(c, device),
    username: signedIn.account.username,
  };
  const html = c.get("pages").deviceConfirm(props, c);
  return sendPage(c, html);
}

/** The resources the device named: the default audience goes without saying, as on the consent page. */
const namedResources = (c: Ctx, device: DeviceAuthorization) => device.resources.filter((resource) => resource !== c.get("audience"));

const NO_SUCH_CODE = "No device is waiting for this code: check it, or start again on the device (codes expire after a few minutes).";
const NOT_A_CODE = "That is not a code from this site: it has 8 letters, like BCDF-GHJK.";
const TOO_MANY = "Too many wrong codes. Please wait a while and try again.";

/** `GET /o/device/`: the form to enter the device's code (prefilled from `verification_uri_complete`). */
export async function deviceVerificationGet(c: Ctx): Promise<Response> {
  const typed = c.req.query("user_code");
  const signedIn = await signedInAccount(c, c.var);
  if (!signedIn) return toLogin(c, typed);
  const code = normalizeUserCode(typed);
  return showEntry(c, signedIn, { userCode: code ? formatUserCode(code) : undefined });
}

/**
 * Looks the typed code up, counting the entry first (the sign-in throttle's table): a right code
 * gives its attempt back, so only wrong entries add up, and once too many are wrong no code is
 * looked up for this user until the window ends.
 */
async function lookUp(c: Ctx, signedIn: SignedIn, code: string): Promise<DeviceAuthorization | "locked" | undefined> {
  const db = c.get("db");
  const settings = c.get("settings");
  const now = nowSeconds();
  const keys = userCodeThrottleKeys(signedIn.account.id, clientAddress(c.req.raw.headers));
  const narrow = { key: keys.narrow, limit: USER_CODE_MAX_FAILURES };
  const wide = { key: keys.wide, limit: USER_CODE_MAX_FAILURES_PER_USER };
  const counted = await countSignInAttempt(db, narrow, wide, { now, windowSeconds: settings.LOGIN_LOCKOUT_SECONDS });
  if (lockOf(counted, narrow, wide, now)) return "locked";
  const device = await findPendingByUserCode(db, code, now);
  if (device) await takeBackUserCodeAttempt(db, keys);
  return device;
}

/** The user approves or denies, once; an approval is recorded as consent, as the consent page does. */
async function decide(c: Ctx, signedIn: SignedIn, device: DeviceAuthorization, approve: boolean): Promise<Response> {
  const db = c.get("db");
  const userId = signedIn.account.id;
  const decided = await decideDeviceAuthorization(
    db,
    device.userCode,
    { status: approve ? "approved" : "denied", userId, authTime: signedIn.session.authTime },
    nowSeconds(),
  );
  if (!decided) return showEntry(c, signedIn, { error: NO_SUCH_CODE, status: 400 });
  const pages = c.get("pages");
  if (!approve) {
    c.get("emit")({ type: "authorization.denied", clientId: decided.clientId, userId });
    const html = pages.message({ title: "Request denied", message: "The device was not connected. You can close this page." }, c);
    return sendPage(c, html);
  }
  const scopes = decided.scope.split(" ").filter(Boolean);
  const already = toApproval((await approvalQuery(db, userId, decided.clientId))[0]);
  await saveApproval(db, userId, decided.clientId, { scopes, claims: [], redirectUris: [], resources: namedResources(c, decided) }, already);
  c.get("emit")({ type: "authorization.granted", clientId: decided.clientId, userId, scope: scopes });
  const html = pages.message({ title: "Device connected", message: "You can close this page and return to your device." }, c);
  return sendPage(c, html);
}

/**
 * `POST /o/device/`: the entered code (then the confirmation page), or the decision on it
 * (`decision=approve|deny`, with the code again). Both need the CSRF token and count as entries.
 */
export async function deviceVerificationPost(c: Ctx): Promise<Response> {
  const signedIn = await signedInAccount(c, c.var);
  if (!signedIn) return toLogin(c, undefined);
  const params = await readPageForm(c);
  if (params instanceof Response) return params;
  const typed = params.get("user_code");
  if (!(await checkCsrf(c, c.var.secret(), params.get(CSRF_FIELD)))) {
    return showEntry(c, signedIn, { userCode: typed, error: "The form expired or did not come from this site. Please try again.", status: 403 });
  }
  const code = normalizeUserCode(typed);
  if (!code) return showEntry(c, signedIn, { userCode: typed, error: NOT_A_CODE, status: 400 });
  const device = await lookUp(c, signedIn, code);
  if (device === "locked") return showEntry(c, signedIn, { error: TOO_MANY, status: 429 });
  if (!device) return showEntry(c, signedIn, { userCode: typed, error: NO_SUCH_CODE, status: 400 });
  const decision = params.get("decision");
  if (decision === "approve" || decision === "deny") return decide(c, signedIn, device, decision === "approve");
  return showConfirmation(c, signedIn, device);
}
