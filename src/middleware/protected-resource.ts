import { DPOP_ALGORITHMS } from "../oauth/dpop";
import type { Context, Handler } from "hono";
import { logError } from "../core/log";
import { requestOrigin } from "../core/request-origin";
import { SettingsError } from "../core/settings";
import { errorBody, serverError } from "../oauth/errors";
import { isResourceIndicator } from "../oauth/resource";

/** An option fixed when the middleware is made, or a function of each request (its origin, its `env`). */
export type PerRequest<T> = T | ((c: Context) => T);

/** The option's value for this request. */
export const valueFor = <T extends string | string[] | number | boolean>(option: PerRequest<T>, c: Context): T =>
  typeof option === "function" ? option(c) : option;

/** Where the provider is, for a resource server: its issuer, or where it is mounted in the same Worker. */
export interface IssuerOptions {
  /** The issuer to trust. Default: the `ISSUER` var, or this Worker's origin + `basePath`. */
  issuer?: string;
  /** In the provider's own Worker: where `createProvider` is mounted (default `/o`), for the default issuer. */
  basePath?: string;
}

/** The issuer a resource server trusts (`IssuerOptions`). */
export function issuerFor(c: Context, options: IssuerOptions): string {
  const env = (c.env ?? {}) as Record<string, unknown>;
  return options.issuer ?? (env.ISSUER as string | undefined) ?? `${requestOrigin(c.req.url).origin}${options.basePath ?? "/o"}`;
}

/** RFC 9728 §2: a protected resource's identifier is a URL (https, or http for local development) without a fragment. */
export const isResourceUrl = (value: string) => isResourceIndicator(value) && /^https?:$/.test(new URL(value).protocol);

/**
 * Checks a resource identifier, once per distinct value (a function of the request usually gives
 * the same few): one that is no URL, or not in normal form, is the operator's mistake.
 */
export function resourceChecker(): (value: string) => string {
  const valid = new Set<string>();
  return (value) => {
    if (valid.has(value)) return value;
    if (!isResourceUrl(value)) {
      throw new SettingsError("the resource must be an http(s) URL without a fragment, in normalized form (as new URL(...).href gives it)");
    }
    if (valid.size >= 64) valid.clear();
    valid.add(value);
    return value;
  };
}

export interface ProtectedResourceMetadataOptions extends IssuerOptions {
  /** This API's resource identifier, as `requireToken`'s `resource`: a URL, or a function of the request giving it. */
  resource: PerRequest<string>;
  /** The scopes clients ask for to use this API (`scopes_supported`). */
  scopesSupported?: string[];
  /** A name for people (`resource_name`). */
  resourceName?: string;
  /** A page for developers (`resource_documentation`). */
  resourceDocumentation?: string;
  /** RFC 9728 §2: this API accepts DPoP-bound tokens only (`dpop_bound_access_tokens_required`); pass `requireToken({ dpop: "required" })` too. */
  dpopBoundAccessTokensRequired?: boolean;
}

const PUBLIC_JSON = { "Access-Control-Allow-Origin": "*", "Cache-Control": "public, max-age=300" };

/**
 * Serves RFC 9728 Protected Resource Metadata, so that a client given only the API's URL finds the
 * authorization server (as MCP clients do). Mount it where `resourceMetadataUrl(resource)` points:
 * `/.well-known/oauth-protected-resource` followed by the resource's path. Any origin may read it;
 * it answers CORS preflights too when mounted for OPTIONS.
 *
 * @example
 * const resource = (c: Context) => `${new URL(c.req.url).origin}/mcp`;
 * app.on(["GET", "OPTIONS"], "/.well-known/oauth-protected-resource/mcp", protectedResourceMetadata({ resource, scopesSupported: ["mcp"] }));
 * app.all("/mcp", requireToken({ resource, scopes: ["mcp"] }), handler);
 */
export function protectedResourceMetadata(options: ProtectedResourceMetadataOptions): Handler {
  const checked = resourceChecker();
  if (typeof options.resource === "string") checked(options.resource);
  return (c) => {
    if (c.req.method === "OPTIONS") {
      return c.body(null, 204, {
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Allow-Methods": "GET",
        "Access-Control-Allow-Headers": "*",
        "Access-Control-Max-Age": "600",
      });
    }
    let resource: string;
    try {
      resource = checked(valueFor(options.resource, c));
    } catch (err) {
      if (!(err instanceof SettingsError)) throw err;
      logError("protectedResourceMetadata is misconfigured", { detail: err.message });
      const error = serverError("the server is misconfigured");
      return c.json(errorBody(error), error.status, { "Cache-Control": "no-store" });
    }
    return c.json(
      {
        resource,
        authorization_servers: [issuerFor(c, options)],
        ...(options.scopesSupported ? { scopes_supported: options.scopesSupported } : {}),
        bearer_methods_supported: ["header"],
        // RFC 9728 §2 and RFC 9449: requireToken checks DPoP proofs made with these algorithms.
        dpop_signing_alg_values_supported: DPOP_ALGORITHMS,
        ...(options.dpopBoundAccessTokensRequired ? { dpop_bound_access_tokens_required: true } : {}),
        ...(options.resourceName ? { resource_name: options.resourceName } : {}),
        ...(options.resourceDocumentation ? { resource_documentation: options.resourceDocumentation } : {}),
      },
      200,
      PUBLIC_JSON,
    );
  };
}
