import type { Settings } from "../settings";
import { invalidScope } from "./errors";

const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/** Splits a `scope` parameter (RFC 6749 §3.3) into its distinct tokens, rejecting bad syntax. */
export function parseScope(scope: string | undefined): string[] | undefined {
  if (scope === undefined) return undefined;
  const tokens = scope.split(" ").filter((t) => t !== "");
  if (tokens.length === 0) return undefined;
  for (const token of tokens) {
    if (!SCOPE_TOKEN.test(token)) throw invalidScope("the scope parameter has characters RFC 6749 §3.3 does not allow");
  }
  return [...new Set(tokens)];
}

/** Scopes a client may be granted: its registered ones, or every configured scope when none is registered. */
export function clientScopes(clientScope: string, settings: Settings): string[] {
  const registered = clientScope.split(" ").filter(Boolean);
  return registered.length > 0 ? registered : Object.keys(settings.SCOPES);
}

/**
 * The scopes to grant: the requested ones, each known and allowed for the client; or the
 * DEFAULT_SCOPES setting (limited to what the client may have) when none was requested.
 */
export function resolveScope(requested: string[] | undefined, allowed: string[], settings: Settings): string[] {
  if (requested === undefined) {
    const defaults = settings.DEFAULT_SCOPES.includes("__all__")
      ? allowed
      : settings.DEFAULT_SCOPES.filter((s) => allowed.includes(s));
    if (defaults.length === 0) throw invalidScope("no scope was requested and the client has no default scope");
    return defaults;
  }
  const unknown = requested.filter((s) => !Object.hasOwn(settings.SCOPES, s) || !allowed.includes(s));
  if (unknown.length > 0) {
    throw invalidScope(`the client may not request the scope "${unknown[0]}"`);
  }
  return requested;
}
