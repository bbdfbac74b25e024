import type { Context } from "hono";
import { deleteCookie, getCookie, getSignedCookie, setCookie, setSignedCookie } from "hono/cookie";
import { base64url, constantTimeEqual, randomToken } from "./crypto";
import { macKey } from "./tokens/secret-keys";

/**
 * Browser sign-in: a signed, stateless session cookie (HttpOnly, SameSite=Lax, Secure except on
 * http://localhost). It carries a fingerprint of the user's password hash, as Django's session
 * auth hash does, so changing the password ends every session; a disabled user's session is
 * rejected because the user is loaded on each use.
 */
export interface Session {
  /** Session id (OIDC `sid`). */
  sid: string;
  userId: string;
  /** When the user signed in (unix seconds): OIDC `auth_time`. */
  authTime: number;
  /** Unix seconds. */
  expiresAt: number;
  /** Fingerprint of the credential the user signed in with. */
  fingerprint: string;
}

const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]"]);

export function isSecureContext(c: Context): boolean {
  const url = new URL(c.req.url);
  return url.protocol === "https:" || !LOOPBACK.has(url.hostname);
}

const cookieName = (c: Context, name: string) => (isSecureContext(c) ? `__Host-${name}` : name);

function cookieOptions(c: Context, maxAge: number) {
  return { path: "/", httpOnly: true, secure: isSecureContext(c), sameSite: "Lax" as const, maxAge };
}

export async function readSession(c: Context, secret: string): Promise<Session | undefined> {
  const raw = await getSignedCookie(c, secret, cookieName(c, "eot_session"));
  if (!raw) return undefined;
  try {
    const session = JSON.parse(atob(raw)) as Session;
    if (typeof session.userId !== "string" || typeof session.expiresAt !== "number") return undefined;
    return session.expiresAt > Math.floor(Date.now() / 1000) ? session : undefined;
  } catch {
    return undefined;
  }
}

export async function startSession(
  c: Context,
  secret: string,
  userId: string,
  fingerprint: string,
  lifetimeSeconds: number,
): Promise<Session> {
  const authTime = Math.floor(Date.now() / 1000);
  const session: Session = { sid: randomToken(16), userId, authTime, expiresAt: authTime + lifetimeSeconds, fingerprint };
  await setSignedCookie(c, cookieName(c, "eot_session"), btoa(JSON.stringify(session)), secret, cookieOptions(c, lifetimeSeconds));
  return session;
}

export function endSession(c: Context): void {
  deleteCookie(c, cookieName(c, "eot_session"), { path: "/", secure: isSecureContext(c) });
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
