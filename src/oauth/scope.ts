import { DEVICE_CODE_GRANT, SCOPE_TOKEN } from "../core/protocol";
import type { Client } from "../db/schema";
import type { Settings } from "../core/settings";
import { invalidScope } from "./errors";

/** The OpenID Connect scopes, known to every provider whatever SCOPES says. */
export const OIDC_SCOPES: Record<string, string> = {
  openid: "Sign you in",
  profile: "See your profile (name, username, picture)",
  email: "See your email address",
  address: "See your postal address",
  phone: "See your phone number",
  offline_access: "Keep access while you are away",
};


/** Splits a `scope` parameter (RFC 6749 §3.3) into its distinct tokens, rejecting bad syntax. */
export function parseScope(scope: string | undefined): string[] | undefined {
  if (scope === undefined) return undefined;
  const tokens = scope.split(" ").filter((t) => t !== "");
  if (tokens.length === 0) return undefined;
  for (const token of tokens) {
    if (!SCOPE_TOKEN.test(token)) throw invalidScope("the scope parameter has characters RFC 6749 section 3.3 does not allow");
  }
  return [...new Set(tokens)];
}

/**
 * Scopes that stand for a user: OpenID Connect's (`offline_access` included). A token with no user
 * (client_credentials) never carries them, whatever the client registered.
 */
const USER_SCOPES: ReadonlySet<string> = new Set(Object.keys(OIDC_SCOPES));

export interface ScopeOptions {
  /** False when the token will have no user (client_credentials). Default true. */
  forUser?: boolean;
}

/** The scopes a client may be granted, and those it gets when a request names none. */
export function grantableScopes(
  client: Pick<Client, "scope" | "grantTypes">,
  settings: Settings,
  { forUser = true }: ScopeOptions = {},
): { allowed: string[]; defaults: string[] } {
  const registered = client.scope.split(" ").filter(Boolean);
  const named = registered.length > 0 ? registered : Object.keys(settings.SCOPES);
  const base = forUser ? named : named.filter((s) => !USER_SCOPES.has(s));
  // Clients that sign users in may always ask for the OpenID Connect scopes; users consent to them.
  const signsInUsers = ["authorization_code", "implicit", DEVICE_CODE_GRANT].some((grant) => client.grantTypes.includes(grant));
  const allowed = forUser && signsInUsers ? [...new Set([...base, ...USER_SCOPES])] : base;
  const defaults = settings.DEFAULT_SCOPES.includes("__all__") ? base : settings.DEFAULT_SCOPES.filter((s) => allowed.includes(s));
  return { allowed, defaults };
}

const isKnownScope = (scope: string, settings: Settings) => Object.hasOwn(settings.SCOPES, scope) || Object.hasOwn(OIDC_SCOPES, scope);

export function describeScope(scope: string, settings: Settings): string {
  return (Object.hasOwn(settings.SCOPES, scope) ? settings.SCOPES[scope] : OIDC_SCOPES[scope]) ?? scope;
}

/**
 * The scopes to grant: the requested ones, each known and allowed for the client; or the
 * DEFAULT_SCOPES setting (limited to what the client may have) when none was requested. Without a
 * user (`forUser: false`) the OpenID Connect scopes are never granted, and asking for one is refused.
 */
export function resolveScope(
  requested: string[] | undefined,
  client: Pick<Client, "scope" | "grantTypes">,
  settings: Settings,
  options: ScopeOptions = {},
): string[] {
  const { allowed, defaults } = grantableScopes(client, settings, options);
  if (requested === undefined) {
    if (defaults.length === 0) throw invalidScope("no scope was requested and the client has no default scope");
    return defaults;
  }
  if (options.forUser === false && requested.some((s) => USER_SCOPES.has(s))) {
    throw invalidScope("OpenID Connect scopes need a user, and a client_credentials token has none");
  }
  if (requested.some((s) => !isKnownScope(s, settings) || !allowed.includes(s))) {
    throw invalidScope("a requested scope is unknown or not allowed for this client");
  }
  return requested;
}
