import { randomToken } from "../core/crypto";
import type { Settings } from "../core/settings";
import { nowSeconds } from "../core/time";
import type { Database } from "../db/index";
import { spendOnce } from "../db/spent-ids";
import { invalidRequest, invalidRequestUri } from "../oauth/errors";
import { parseParams, type Params } from "../oauth/form";
import { CSRF_FIELD } from "../session/cookies";
import { seal, unseal } from "../tokens/sealed";
import { LOGIN_REQUEST_PARAM } from "./authentication";

/**
 * Pushed authorization requests (RFC 9126). A pushed request, once checked like any authorization
 * request, is sealed (AES-256-GCM under SECRET_KEY) into its own `request_uri`, so every location
 * can read it the moment it is pushed, without KV's propagation delay, and no storage is written
 * at the push. Single use is decided at the primary (`spendOnce("par", id)`) when the
 * authorization endpoint gives its answer (a code, tokens, or an error for the client), never
 * when it only shows the sign-in or consent page.
 *
 * The `request_uri` a client receives lives PAR_EXPIRE_SECONDS. The sign-in and consent forms
 * carry the request on as `client_id` and a second sealed `request_uri` (same id, another
 * purpose) that lives PUSHED_REQUEST_INTERACTION_SECONDS from the first use, so a user who takes
 * longer than a minute to sign in is not refused; it is spent with the same id, so either form
 * answers at most once.
 */

export const REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:";
/** How long the sign-in and consent pages may take once a pushed request was first used. */
export const PUSHED_REQUEST_INTERACTION_SECONDS = 600;

const PUSHED = "par";
const CARRIED = "par-interaction";

/** What a request_uri holds. */
interface PushedContent {
  /** Random: what single use spends. */
  id: string;
  clientId: string;
  /** The authorization request's parameters, as pushed (without client authentication). */
  params: [string, string][];
  /** Until when this form of the request_uri may be used (Unix seconds). */
  expiresAt: number;
  /** Until when any form of it may be used: how long its spent record is kept. */
  spendUntil: number;
}

/** A pushed request opened at the authorization endpoint. */
export interface PushedRequest {
  id: string;
  spendUntil: number;
  /** The pushed parameters, plus the fields the sign-in and consent steps add on the way. */
  params: Params;
  /** What the sign-in and consent forms carry instead of the parameters: client_id and a request_uri. */
  carried: Params;
}

/** Fields the sign-in and consent steps add to a request: carried beside a pushed request, never pushed. */
export const INTERACTION_FIELDS: ReadonlySet<string> = new Set([CSRF_FIELD, "allow", "cancel", LOGIN_REQUEST_PARAM]);

/** Parameters that are client authentication, not part of the authorization request. */
const CLIENT_AUTHENTICATION = new Set(["client_secret", "client_assertion", "client_assertion_type"]);

/** Seals a checked authorization request into a new request_uri; `expires_in` for the push's answer. */
export async function pushRequest(
  secretKey: string,
  settings: Pick<Settings, "PAR_EXPIRE_SECONDS">,
  clientId: string,
  params: Params,
): Promise<{ request_uri: string; expires_in: number }> {
  const fields = [...params.entries()].filter(([name]) => !CLIENT_AUTHENTICATION.has(name) && !INTERACTION_FIELDS.has(name));
  const expiresAt = nowSeconds() + settings.PAR_EXPIRE_SECONDS;
  const content: PushedContent = {
    id: randomToken(16),
    clientId,
    params: fields,
    expiresAt,
    spendUntil: expiresAt + PUSHED_REQUEST_INTERACTION_SECONDS,
  };
  return { request_uri: REQUEST_URI_PREFIX + (await seal(secretKey, PUSHED, content)), expires_in: settings.PAR_EXPIRE_SECONDS };
}

const paramsOf = (fields: [string, string][]) => parseParams(new URLSearchParams(fields).toString());

/**
 * The pushed request a request_uri (one that starts with REQUEST_URI_PREFIX) names (RFC 9126 §4): `client_id` must be sent and be the
 * pushing client's; every other parameter of the request is ignored, except the fields the
 * sign-in and consent steps add (INTERACTION_FIELDS). Expired, forged, altered or another client's: an
 * invalid_request_uri, shown on a page.
 */
export async function openPushedRequest(secretKey: string, params: Params): Promise<PushedRequest> {
  const keep = INTERACTION_FIELDS;
  const requestUri = params.get("request_uri") ?? "";
  const clientId = params.get("client_id");
  if (clientId === undefined) throw invalidRequest('missing required parameter "client_id" beside request_uri');
  const sealed = requestUri.slice(REQUEST_URI_PREFIX.length);
  const pushed = await unseal<PushedContent>(secretKey, PUSHED, sealed);
  const content = pushed ?? (await unseal<PushedContent>(secretKey, CARRIED, sealed));
  if (!content) throw invalidRequestUri("request_uri is not valid");
  if (content.clientId !== clientId) throw invalidRequestUri("request_uri was pushed by another client");
  const now = nowSeconds();
  if (content.expiresAt <= now) throw invalidRequestUri("request_uri has expired; push the request again");

  const added = [...params.entries()].filter(([name]) => keep.has(name));
  const carriedUri = pushed
    ? REQUEST_URI_PREFIX + (await seal(secretKey, CARRIED, { ...content, expiresAt: Math.min(now + PUSHED_REQUEST_INTERACTION_SECONDS, content.spendUntil) }))
    : requestUri;
  return {
    id: content.id,
    spendUntil: content.spendUntil,
    params: paramsOf([...content.params.filter(([name]) => !keep.has(name)), ...added]),
    carried: paramsOf([
      ["client_id", clientId],
      ["request_uri", carriedUri],
      ...added,
    ]),
  };
}

/** Spends the pushed request as its answer is given: true the first time, false once used (also under concurrency). */
export function spendPushedRequest(db: Database, pushed: PushedRequest): Promise<boolean> {
  return spendOnce(db, "par", pushed.id, pushed.spendUntil);
}
