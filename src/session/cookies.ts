import type { Context } from "hono";
import { deleteCookie, getCookie, getSignedCookie, setCookie, setSignedCookie } from "hono/cookie";
import { base64url, constantTimeEqual, randomToken } from "../core/crypto";
import { deleteSession, deleteSessionQuery, insertSession } from "../db/sessions";
import { moveSessionClientsQuery } from "../db/session-clients";
import { isBookmark, openSession, type Database } from "../db/index";
import { macKey } from "../tokens/secret-keys";
import { nowSeconds } from "../core/time";
import { LOOPBACK_HOSTNAMES } from "../core/protocol";
import { clearBrowserState, setBrowserState } from "./browser-state";


/**
 * Browser sign-in: a signed session cookie (HttpOnly, SameSite=Lax, Secure except on
 * http://localhost) naming a session recorded in D1. The record is checked on every use, so
 * signing out ends the session on the server: a copy of the cookie stops working too. The cookie
 * carries a fingerprint of the user's password hash, as Django's session auth hash does, so
 * changing the password ends every session; a disabled user's session is rejected because the
 * user is loaded on each use.
 */
export interface Session {
  /** Session id (OIDC `sid`), the key of its D1 record. */
  sid: string;
  userId: string;
  /** When the user signed in (unix seconds): OIDC `auth_time`. */
  authTime: number;
  /** Unix seconds. */
  expiresAt: number;
  /** Fingerprint of the credential the user signed in with. */
  fingerprint: string;
  /**
   * The sign-in request this session answers (see `LOGIN_REQUEST_PARAM`): proof, inside the
   * signed cookie, that the user signed in for that authorization request.
   */
  signedInFor?: string;
  /**
   * The D1 bookmark of this browser's latest write (the sign-in, a consent given): reads for the
   * session's requests go to a replica at least this new, so they see those writes. The cookie is
   * signed, so only this server writes it; one that does not look like a bookmark is ignored.
   */
  bookmark?: string;
}

export function isSecureContext(c: Context): boolean {
  const url = new URL(c.req.url);
  return url.protocol === "https:" || !LOOPBACK_HOSTNAMES.has(url.hostname);
}

const cookieName = (c: Context, name: string) => (isSecureContext(c) ? `__Host-${name}` : name);

function cookieOptions(c: Context, maxAge: number) {
  return { path: "/", httpOnly: true, secure: isSecureContext(c), sameSite: "Lax" as const, maxAge };
}

/** The session the cookie names, as signed; whether it is still recorded in D1 is the caller's check. */
export async function readSession(c: Context, secret: string): Promise<Session | undefined> {
  const raw = await getSignedCookie(c, secret, cookieName(c, "eot_session"));
  if (!raw) return undefined;
  try {
    const session = JSON.parse(atob(raw)) as Session;
    if (typeof session.sid !== "string" || typeof session.userId !== "string" || typeof session.expiresAt !== "number") return undefined;
    if (session.bookmark !== undefined && !isBookmark(session.bookmark)) delete session.bookmark;
    return session.expiresAt > nowSeconds() ? session : undefined;
  } catch {
    return undefined;
  }
}

async function writeSessionCookie(c: Context, secret: string, session: Session, maxAge: number): Promise<void> {
  await setSignedCookie(c, cookieName(c, "eot_session"), btoa(JSON.stringify(session)), secret, cookieOptions(c, maxAge));
}

/**
 * Starts a new session (a new id, never the old one: no session fixation) and records it in D1,
 * at the primary; the browser's previous session, if any, ends on the server too. When the same
 * user signs in again (`prompt=login`, `max_age`) the new session takes over the previous one's
 * relying parties (their logout comes when it ends); otherwise the previous session's id is
 * returned as `ended`, for its relying parties to be told. The cookie carries the bookmark.
 */
export async function startSession(
  c: Context,
  d1: D1Database,
  secret: string,
  account: { id: string; fingerprint: string },
  lifetimeSeconds: number,
  signedInFor?: string,
): Promise<{ session: Session; ended?: string }> {
  const authTime = nowSeconds();
  const session: Session = {
    sid: randomToken(16),
    userId: account.id,
    authTime,
    expiresAt: authTime + lifetimeSeconds,
    fingerprint: account.fingerprint,
    ...(signedInFor ? { signedInFor } : {}),
  };
  const previous = await readSession(c, secret);
  const { db, bookmark } = openSession(d1, "first-primary");
  const insert = insertSession(db, { id: session.sid, userId: session.userId, authTime, expiresAt: session.expiresAt });
  const sameUser = previous?.userId === account.id;
  if (previous && sameUser) {
    await db.batch([moveSessionClientsQuery(db, previous.sid, session.sid, authTime), deleteSessionQuery(db, previous.sid), insert]);
  } else if (previous) await db.batch([deleteSessionQuery(db, previous.sid), insert]);
  else await insert.run();
  const written = bookmark();
  if (isBookmark(written)) session.bookmark = written;
  await writeSessionCookie(c, secret, session, lifetimeSeconds);
  await setBrowserState(c, isSecureContext(c), secret, session.sid, lifetimeSeconds);
  return { session, ...(previous && !sameUser ? { ended: previous.sid } : {}) };
}

/**
 * Records in the session cookie the bookmark of a write this browser just made (a consent given),
 * so that its next requests read a replica that has it. The cookie keeps its expiry.
 */
export async function rememberWrite(c: Context, secret: string, session: Session, bookmark: string | null): Promise<void> {
  if (!isBookmark(bookmark) || bookmark === session.bookmark) return;
  const maxAge = session.expiresAt - nowSeconds();
  if (maxAge <= 0) return;
  await writeSessionCookie(c, secret, { ...session, bookmark }, maxAge);
}

/**
 * Ends this browser's session, as `readSession` read it: its D1 record (so copies of the cookie
 * stop working) and the cookie.
 */
export async function endSession(c: Context, db: Database, session: Session | undefined): Promise<void> {
  if (session) await deleteSession(db, session.sid);
  deleteCookie(c, cookieName(c, "eot_session"), { path: "/", secure: isSecureContext(c) });
  clearBrowserState(c, isSecureContext(c));
}

/** The fingerprint a session keeps of a password hash: changing the password changes it. */
export async function credentialFingerprint(secret: string, passwordHash: string): Promise<string> {
  const mac = await crypto.subtle.sign("HMAC", await macKey(secret, "session"), new TextEncoder().encode(passwordHash));
  return base64url(new Uint8Array(mac)).slice(0, 22);
}

/**
 * CSRF protection for the forms: a random HttpOnly cookie, and in each form a token that is
 * the HMAC of it (Django calls the field `csrfmiddlewaretoken`; we keep the name). A POST must
 * carry both, and a browser's Origin header, when present, must be ours.
 */
export const CSRF_FIELD = "csrfmiddlewaretoken";

async function csrfFor(secret: string, cookieValue: string): Promise<string> {
  const mac = await crypto.subtle.sign("HMAC", await macKey(secret, "csrf"), new TextEncoder().encode(cookieValue));
  return base64url(new Uint8Array(mac));
}

/** The token to put in a form; sets the CSRF cookie when the browser has none. */
export async function csrfToken(c: Context, secret: string, lifetimeSeconds: number): Promise<string> {
  const name = cookieName(c, "eot_csrf");
  let value = getCookie(c, name);
  if (!value || !/^[A-Za-z0-9_-]{43}$/.test(value)) {
    value = randomToken(32);
    setCookie(c, name, value, cookieOptions(c, lifetimeSeconds));
  }
  return csrfFor(secret, value);
}

export async function checkCsrf(c: Context, secret: string, submitted: string | undefined): Promise<boolean> {
  const origin = c.req.header("origin");
  if (origin !== undefined && origin !== new URL(c.req.url).origin) return false;
  const cookie = getCookie(c, cookieName(c, "eot_csrf"));
  if (!cookie || !submitted) return false;
  return constantTimeEqual(await csrfFor(secret, cookie), submitted);
}
