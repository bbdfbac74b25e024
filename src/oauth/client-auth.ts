import { reloadCachedClient } from "../db/clients";
import type { Database } from "../db/index";
import type { Client } from "../db/schema";
import { secretMatchesHash } from "../core/crypto";
import type { Settings } from "../core/settings";
import { assertionClientId, CLIENT_ASSERTION_TYPE, verifyClientAssertion, type AssertionContext } from "./client-assertion";
import { findClientForRequest } from "./client-lookup";
import { invalidClient, invalidRequest } from "./errors";
import type { Params } from "./form";
import { nowSeconds } from "../core/time";

export interface AuthenticatedClient {
  client: Client;
  method: Client["tokenEndpointAuthMethod"];
}

interface PresentedCredentials {
  clientId: string;
  secret?: string;
  /** A JWT assertion (RFC 7523): private_key_jwt or client_secret_jwt, as the client registered. */
  assertion?: string;
  method: "client_secret_basic" | "client_secret_post" | "none" | "client_assertion";
}

/** RFC 7521 §4.2: `client_assertion_type` and `client_assertion`, instead of any other method. */
function presentedAssertion(params: Params, otherMethod: boolean): PresentedCredentials | undefined {
  const type = params.get("client_assertion_type");
  const assertion = params.get("client_assertion");
  if (type === undefined && assertion === undefined) return undefined;
  if (otherMethod) throw invalidRequest("the client must use only one authentication method, not a client assertion and a secret");
  if (type === undefined || assertion === undefined) throw invalidRequest("client_assertion and client_assertion_type go together");
  if (type !== CLIENT_ASSERTION_TYPE) throw invalidClient(`client_assertion_type must be ${CLIENT_ASSERTION_TYPE}`);
  const clientId = assertionClientId(assertion);
  const bodyId = params.get("client_id");
  if (bodyId !== undefined && bodyId !== clientId) throw invalidClient("client_id does not match the client assertion's sub");
  return { clientId, assertion, method: "client_assertion" };
}

function decodeBasicPart(part: string): string {
  try {
    return decodeURIComponent(part.replace(/\+/g, " "));
  } catch {
    throw invalidClient("the Basic credentials are not correctly form-encoded");
  }
}

/** RFC 6749 §2.3.1: `Basic base64(urlencode(client_id) ":" urlencode(secret))`. */
function parseBasic(header: string): { clientId: string; secret: string } {
  const match = /^Basic +([A-Za-z0-9+/]+=*) *$/i.exec(header);
  if (!match) throw invalidClient("the Authorization header is not valid Basic credentials");
  let decoded: string;
  try {
    decoded = atob(match[1]!);
  } catch {
    throw invalidClient("the Basic credentials are not valid base64");
  }
  const colon = decoded.indexOf(":");
  if (colon === -1) throw invalidClient("the Basic credentials lack the ':' separator");
  const clientId = decodeBasicPart(decoded.slice(0, colon));
  const secret = decodeBasicPart(decoded.slice(colon + 1));
  if (!clientId) throw invalidClient("the Basic credentials have an empty client_id");
  return { clientId, secret };
}

/** Which credentials the request carries; more than one method is an `invalid_request` (RFC 6749 §2.3). */
export function presentedCredentials(authorization: string | undefined, params: Params): PresentedCredentials {
  const bodyId = params.get("client_id");
  const bodySecret = params.get("client_secret");
  const basicSent = authorization !== undefined && /^basic(\s|$)/i.test(authorization);
  const assertion = presentedAssertion(params, basicSent || bodySecret !== undefined);
  if (assertion) return assertion;
  if (authorization !== undefined && /^basic(\s|$)/i.test(authorization)) {
    const basic = parseBasic(authorization);
    if (bodySecret !== undefined) {
      throw invalidRequest("the client must use only one authentication method, not both Basic and client_secret");
    }
    if (bodyId !== undefined && bodyId !== basic.clientId) {
      throw invalidRequest("client_id in the body does not match the Basic credentials");
    }
    // requests-oauthlib and simple-oauth2 send a public client's id as Basic with an empty
    // password: that identifies the client (method none), as an empty client_secret does.
    if (basic.secret === "") return { clientId: basic.clientId, method: "none" };
    return { clientId: basic.clientId, secret: basic.secret, method: "client_secret_basic" };
  }
  if (bodyId === undefined) throw invalidClient("client authentication is required (Basic, or client_id in the body)");
  if (bodySecret !== undefined) return { clientId: bodyId, secret: bodySecret, method: "client_secret_post" };
  return { clientId: bodyId, method: "none" };
}

/**
 * A client authenticates only with the method it registered (`token_endpoint_auth_method`,
 * RFC 7591 §2): a `client_secret_basic` client may not switch to `client_secret_post`, nor back.
 * Public clients send `client_id` alone; a confidential client always needs its secret.
 */
function requireRegisteredMethod(client: Client, presented: PresentedCredentials): void {
  if (client.clientType === "public") {
    if (presented.method !== "none") throw invalidClient("a public client must not send a client secret");
    return;
  }
  const jwtMethod = client.tokenEndpointAuthMethod === "private_key_jwt" || client.tokenEndpointAuthMethod === "client_secret_jwt";
  if (presented.method === "client_assertion" && jwtMethod) return;
  if (presented.method === "none") {
    throw invalidClient(jwtMethod ? `this client must authenticate with ${client.tokenEndpointAuthMethod}` : "this client must authenticate with its client secret");
  }
  if (presented.method !== client.tokenEndpointAuthMethod) {
    throw invalidClient(`this client is registered for ${client.tokenEndpointAuthMethod} and must authenticate with it`);
  }
}

/**
 * Whether `secret` is the client's: its current secret, or the previous one until the grace of the
 * last rotation ends (`previous_secret_expires_at`). Both compared as hashes, in constant time.
 */
async function secretAccepted(client: Client, secret: string, now: number): Promise<boolean> {
  if (client.secretHash !== null && (await secretMatchesHash(secret, client.secretHash))) return true;
  const { previousSecretHash: previous, previousSecretExpiresAt: graceEnds } = client;
  if (previous === null || graceEnds === null || now >= graceEnds) return false;
  return secretMatchesHash(secret, previous);
}

/**
 * Authenticates the client at the token, revocation, introspection and PAR endpoints, with the
 * one method it registered: `client_secret_basic` or `client_secret_post`, a JWT assertion
 * (`private_key_jwt`, `client_secret_jwt`; only where the endpoint gives an `assertion` context)
 * for confidential clients, `client_id` alone (`none`) for public ones. Query-string credentials
 * are never read.
 */
export async function authenticateClient(
  db: Database,
  settings: Settings,
  authorization: string | undefined,
  params: Params,
  assertion?: AssertionContext,
): Promise<AuthenticatedClient> {
  const presented = presentedCredentials(authorization, params);
  const client = await findClientForRequest(db, settings, presented.clientId);
  if (!client) throw invalidClient("unknown client");
  requireRegisteredMethod(client, presented);
  if (client.clientType === "public") return { client, method: "none" };
  if (presented.assertion !== undefined) {
    if (!assertion) throw invalidClient("client assertions are not accepted at this endpoint");
    await verifyClientAssertion(db, settings, client, presented.assertion, assertion);
    return { client, method: client.tokenEndpointAuthMethod };
  }
  const secret = presented.secret;
  if (secret === undefined) throw invalidClient("this client must authenticate with its client secret");
  const now = nowSeconds();
  if (await secretAccepted(client, secret, now)) return { client, method: client.tokenEndpointAuthMethod };

  // The cached record may predate a `client rotate-secret`: read it again before refusing, so a
  // new secret works at once. reloadCachedClient allows one D1 read per client every few seconds
  // per isolate, so a flood of wrong secrets costs no more than that.
  const reloaded = await reloadCachedClient(db, client.id, settings.CLIENT_CACHE_SECONDS);
  if (reloaded && reloaded !== client) {
    requireRegisteredMethod(reloaded, presented);
    if (await secretAccepted(reloaded, secret, now)) return { client: reloaded, method: reloaded.tokenEndpointAuthMethod };
  }
  throw invalidClient("client authentication failed");
}
