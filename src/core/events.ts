import type { Context } from "hono";
import { runAfterResponse } from "./after-response";
import { errorFields, logError, logInfo, logWarn } from "./log";

/** How a password sign-in came in: the login form, or the password grant (RFC 6749 §4.3). */
export type SignInVia = "login_form" | "password_grant";

/**
 * Why a sign-in was refused. A disabled user is `invalid_credentials`: the account store answers
 * only "these credentials" or "none".
 */
export type SignInFailure = "invalid_credentials" | "locked_out";

/**
 * Where a sign-in came from. `username` is as typed (at most 150 characters, the longest a username
 * may be); never the password. `clientAddress` is `CF-Connecting-IP` (an IPv6 address as its /64),
 * or "unknown". `clientId` is set for the password grant, whose client is authenticated.
 */
interface SignInSource {
  via: SignInVia;
  username: string;
  clientAddress: string;
  clientId?: string;
}

/** A grant (token family) found reused; every token of it is revoked. `clientAddress` as above. */
interface ReuseDetected {
  clientId: string;
  userId: string;
  grantId: string;
  clientAddress: string;
}

/**
 * What happened, for audit logs and integrations: the analogue of DOT's signals. Events carry ids,
 * never a secret, token or password.
 *
 * - `token.issued`: an access token from the token endpoint, or from the authorization endpoint
 *   (`implicit`: response types with `token`, implicit and hybrid). An ID token alone is not one.
 *   `device_code` (RFC 8628): a device's poll after its user approved.
 *   `token_exchange` (RFC 8693): `clientId` is the exchanging client, `userId` the subject token's user.
 * - `signin.succeeded` / `signin.failed`: every password sign-in, with the account's id or the reason.
 * - `signin.locked_out`: an attempt refused by the sign-in throttle (it also counts as a
 *   `signin.failed` with reason `locked_out`). `lock` is `address` for this username from this
 *   address, `username` for the username from everywhere; `started` when this attempt began the
 *   lock; `lockedUntil` in epoch seconds.
 * - `refresh_token.reused`: a rotated refresh token presented again after the grace period (or
 *   lost a race to a concurrent rotation); `authorization_code.reused`: a code redeemed twice.
 * - `authorization.revoked`: a user revoked a client on the authorized-tokens page: its tokens of
 *   that user are revoked and the consent forgotten.
 * - `client.registered`, `client.updated`, `client.deleted`: a client that registered itself (RFC
 *   7591) or manages its registration (RFC 7592), or a user's application on the application pages
 *   (`source: "user"`, with `userId`); `source` says how it came (clients an operator makes with
 *   the admin CLI are not reported).
 * - Operator console actions carry `operatorId` (the operator's user id): `user.created`,
 *   `user.disabled`, `user.enabled`, `user.password_changed`, `user.signed_out` (every session ended,
 *   tokens revoked), and for clients `client.registered`, `client.deleted`, `client.secret_rotated`,
 *   `client.tokens_revoked`; with DATABASE_SIGNING_KEYS, `key.added`, `key.promoted` (with
 *   `signsFrom`, epoch seconds) and `key.retired`, each naming the key by `kid` (never its material).
 *
 * The sign-in and reuse events are security events: the provider also logs each as one structured
 * line (`message: "security event"`), with or without a hook.
 */
export type ProviderEvent =
  | { type: "token.issued"; grantType: "authorization_code" | "client_credentials" | "password" | "implicit" | "device_code" | "token_exchange"; clientId: string; userId?: string; scope: string }
  | { type: "token.refreshed"; clientId: string; userId?: string; scope: string }
  | { type: "token.revoked"; clientId: string; tokenType: "access_token" | "refresh_token" }
  | { type: "authorization.granted"; clientId: string; userId: string; scope: string[] }
  | { type: "authorization.denied"; clientId: string; userId: string }
  | { type: "authorization.revoked"; clientId: string; userId: string }
  | ({ type: "signin.succeeded"; userId: string } & SignInSource)
  | ({ type: "signin.failed"; reason: SignInFailure } & SignInSource)
  | ({ type: "signin.locked_out"; lock: "address" | "username"; started: boolean; lockedUntil: number | null } & SignInSource)
  | ({ type: "refresh_token.reused" } & ReuseDetected)
  | ({ type: "authorization_code.reused" } & ReuseDetected)
  | { type: "client.registered" | "client.updated" | "client.deleted"; clientId: string; source: "registration" | "metadata_document" }
  | { type: "client.registered" | "client.updated" | "client.deleted"; clientId: string; source: "user"; userId: string }
  | { type: "user.created" | "user.disabled" | "user.enabled" | "user.password_changed" | "user.signed_out"; userId: string; operatorId: string }
  | { type: "client.registered" | "client.deleted" | "client.secret_rotated" | "client.tokens_revoked"; clientId: string; source: "operator"; operatorId: string }
  | { type: "key.added" | "key.retired"; kid: string; alg: string; operatorId: string }
  | { type: "key.promoted"; kid: string; alg: string; signsFrom: number; operatorId: string };

/** Called after the response is decided; a returned promise runs on after the response (`waitUntil`). */
export type EventHook = (event: ProviderEvent, c: Context) => void | Promise<void>;

/** The security events, each logged at its level. */
const SECURITY_LOG: Partial<Record<ProviderEvent["type"], typeof logInfo>> = {
  "signin.succeeded": logInfo,
  "signin.failed": logWarn,
  "signin.locked_out": logWarn,
  "refresh_token.reused": logWarn,
  "authorization_code.reused": logWarn,
};

/** Logs a security event as one line, its fields flat; other events are not logged. */
function logSecurityEvent(event: ProviderEvent): void {
  const log = SECURITY_LOG[event.type];
  if (!log) return;
  const { type, ...fields } = event;
  log("security event", { event: type, ...fields });
}

function callHook(hook: EventHook, event: ProviderEvent, c: Context): void {
  try {
    const pending = hook(event, c);
    if (pending && typeof pending.then === "function") {
      runAfterResponse(c, pending.catch((err: unknown) => logError("event hook failed", { event: event.type, ...errorFields(err) })));
    }
  } catch (err) {
    logError("event hook failed", { event: event.type, ...errorFields(err) });
  }
}

/**
 * An emitter for one request: security events are logged; every event goes to each hook, whose
 * failures are logged, never turned into an error response. Without hooks the emitter is one
 * shared function, so a request that emits only ordinary events pays nothing.
 */
export function eventEmitter(hooks: readonly EventHook[], c: Context): (event: ProviderEvent) => void {
  if (hooks.length === 0) return logSecurityEvent;
  return (event) => {
    logSecurityEvent(event);
    for (const hook of hooks) callHook(hook, event, c);
  };
}
