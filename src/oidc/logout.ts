import { findClientCached } from "../db/clients";
import type { Client } from "../db/schema";
import { invalidRequest } from "../oauth/errors";
import type { Params } from "../oauth/form";
import { appendQuery } from "../oauth/redirect-uri";
import type { ServerContext } from "../types";
import { hintedClientId, verifyIdTokenHint } from "./id-token-hint";

/**
 * OpenID Connect RP-Initiated Logout 1.0: who asks (the `aud` of `id_token_hint` or `client_id`)
 * and where to send the browser afterwards. Every check fails with `invalid_request`, shown on
 * a page: an untrusted request never redirects (no open redirector).
 */
export interface LogoutRequest {
  client?: Client;
  postLogoutRedirectUri?: string;
  state?: string;
  /** The request's parameters, for the confirm form to carry back. */
  fields: Record<string, string>;
}

/** The parameters the confirm form carries; `ui_locales` and `logout_hint` are accepted and ignored. */
const CARRIED = ["id_token_hint", "client_id", "post_logout_redirect_uri", "state"] as const;

async function hintedClient(ctx: ServerContext, hint: string | undefined): Promise<string | undefined> {
  if (hint === undefined) return undefined;
  const clientId = hintedClientId(await verifyIdTokenHint(await ctx.keys(), ctx.issuer, hint));
  if (!clientId) throw invalidRequest("id_token_hint does not name the client it was issued to");
  return clientId;
}

async function identifiedClient(ctx: ServerContext, params: Params): Promise<Client | undefined> {
  const fromHint = await hintedClient(ctx, params.get("id_token_hint"));
  const named = params.get("client_id");
  if (fromHint !== undefined && named !== undefined && fromHint !== named) {
    throw invalidRequest("client_id is not the client id_token_hint was issued to");
  }
  const clientId = fromHint ?? named;
  if (clientId === undefined) return undefined;
  const client = await findClientCached(ctx.db, clientId, ctx.settings.CLIENT_CACHE_SECONDS);
  if (!client) throw invalidRequest("unknown client");
  return client;
}

function checkedRedirect(client: Client | undefined, uri: string | undefined): string | undefined {
  if (uri === undefined) return undefined;
  if (!client) throw invalidRequest("post_logout_redirect_uri needs id_token_hint or client_id to name the client");
  // Exact string match, as for redirect URIs: anything looser could redirect anywhere.
  if (!client.postLogoutRedirectUris.includes(uri)) {
    throw invalidRequest("post_logout_redirect_uri is not registered for this client");
  }
  return uri;
}

export async function checkLogoutRequest(ctx: ServerContext, params: Params): Promise<LogoutRequest> {
  const client = await identifiedClient(ctx, params);
  const postLogoutRedirectUri = checkedRedirect(client, params.get("post_logout_redirect_uri"));
  const fields: Record<string, string> = {};
  for (const name of CARRIED) {
    const value = params.get(name);
    if (value !== undefined) fields[name] = value;
  }
  return { client, postLogoutRedirectUri, state: params.get("state"), fields };
}

/** Where to send the browser: the registered URI with its own query kept, and `state` added. */
export function postLogoutLocation(uri: string, state: string | undefined): string {
  if (state === undefined) return uri;
  return appendQuery(uri, { state });
}
