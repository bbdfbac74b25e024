import type { Settings } from "../core/settings";
import type { Client } from "../db/schema";
import { invalidTarget } from "./errors";

/**
 * Resource indicators (RFC 8707): the APIs a token is for, which become its `aud`. A resource is
 * known when it is the default audience or an entry of RESOURCES, or lies under one of them; a
 * client registered with `resources` may ask only for those (or what lies under them).
 */

/** Each resource becomes an `aud` value: a bound on the token's size. */
export const MAX_RESOURCES = 10;
const MAX_RESOURCE_LENGTH = 2048;

/** What decides whether a resource may be asked for: the server's resources and the client's list. */
export interface ResourcePolicy {
  /** The default audience (ACCESS_TOKEN_AUDIENCE or the issuer's origin). */
  audience: string;
  settings: Pick<Settings, "RESOURCES">;
  client: Pick<Client, "resources">;
}

/**
 * RFC 8707 §2: an absolute URI without a fragment. Stricter: no credentials, and in the form a URL
 * parser gives it (lower-case scheme and host, no default port, no dot segments; an origin may
 * omit its "/"), so that the `aud` a resource server compares as a string is the one checked here.
 */
export function isResourceIndicator(value: string): boolean {
  if (value.length > MAX_RESOURCE_LENGTH || value.includes("#") || !URL.canParse(value)) return false;
  const url = new URL(value);
  if (url.username !== "" || url.password !== "") return false;
  return url.href === value || (url.pathname === "/" && url.search === "" && url.href === `${value}/`);
}

/**
 * Whether `resource` is `base` or lies under it: the same origin, no query, and a path that is
 * the base's path or below it at a "/" boundary (`/api/v1` is under `/api`, `/apiary` is not).
 */
export function liesUnder(resource: string, base: string): boolean {
  if (resource === base) return true;
  // ACCESS_TOKEN_AUDIENCE need not be a URI ("my-api"): then only an exact match counts.
  if (!URL.canParse(resource) || !URL.canParse(base)) return false;
  const r = new URL(resource);
  const b = new URL(base);
  if (r.origin === "null" || r.origin !== b.origin || r.search !== "" || b.search !== "") return false;
  const prefix = b.pathname.replace(/\/$/, "");
  return r.pathname === b.pathname || r.pathname === prefix || r.pathname.startsWith(`${prefix}/`);
}

/** The `resource` values of a request, checked for syntax and number; a value sent twice counts once. */
export function parseResources(values: readonly string[]): string[] {
  const unique = [...new Set(values)];
  if (unique.length > MAX_RESOURCES) throw invalidTarget(`at most ${MAX_RESOURCES} resources may be requested at once`);
  if (!unique.every(isResourceIndicator)) {
    throw invalidTarget("each resource must be an absolute URI without a fragment, in normalized form (RFC 8707 section 2)");
  }
  return unique;
}

const isKnown = (resource: string, policy: ResourcePolicy) =>
  liesUnder(resource, policy.audience) || policy.settings.RESOURCES.some((entry) => liesUnder(resource, entry));

const clientMayUse = (resource: string, client: Pick<Client, "resources">) =>
  client.resources.length === 0 || client.resources.some((entry) => liesUnder(resource, entry));

/**
 * The resources a request asks for, or the default audience when it names none; each must be
 * known to this server and allowed for the client (`invalid_target` otherwise). A client
 * restricted to listed resources must name one unless the default audience is among them.
 */
export function resolveResources(values: readonly string[], policy: ResourcePolicy): string[] {
  const requested = parseResources(values);
  if (requested.length === 0) {
    if (!clientMayUse(policy.audience, policy.client)) {
      throw invalidTarget("this client must name a resource it is registered for");
    }
    return [policy.audience];
  }
  if (!requested.every((resource) => isKnown(resource, policy))) throw invalidTarget("a requested resource is not served here");
  if (!requested.every((resource) => clientMayUse(resource, policy.client))) {
    throw invalidTarget("this client may not ask for a requested resource");
  }
  return requested;
}

/** RFC 8707 §2.2: a token request may narrow the resources of its grant, never widen them. */
export const widensResources = (requested: readonly string[], granted: readonly string[]) =>
  requested.some((resource) => !granted.includes(resource));

export const resourceNotGranted = () =>
  invalidTarget("a requested resource was not granted; a token request may narrow the resources, never widen them");

/** The requested resources (already parsed), or the grant's when none are named; `invalid_target` if they widen the grant's. */
export function narrowResources(requested: readonly string[], granted: readonly string[]): string[] {
  if (requested.length === 0) return [...granted];
  if (widensResources(requested, granted)) throw resourceNotGranted();
  return [...requested];
}

/** The `aud` claim for these resources: one as a string, several as an array (RFC 7519 §4.1.3). */
export function audienceOf(resources: readonly string[]): string | string[] {
  return resources.length === 1 ? resources[0]! : [...resources];
}

/**
 * RFC 9728 §3.1: where a protected resource's metadata lives, `/.well-known/oauth-protected-resource`
 * inserted between the host and the path (and query) of its identifier:
 * `https://api.example.com/mcp` → `https://api.example.com/.well-known/oauth-protected-resource/mcp`.
 */
export function resourceMetadataUrl(resource: string): string {
  const url = new URL(resource);
  const path = url.pathname === "/" ? "" : url.pathname;
  return `${url.origin}/.well-known/oauth-protected-resource${path}${url.search}`;
}
