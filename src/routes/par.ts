import type { Context } from "hono";
import { pushRequest } from "../authorization/pushed-request";
import { checkAuthorizationRequest, checkClientAndRedirect, responseTarget } from "../authorization/request";
import { authenticateClient } from "../oauth/client-auth";
import { invalidRequest, OAuthError } from "../oauth/errors";
import { parseParams, readFormBody } from "../oauth/form";
import { clientAssertionContext } from "../tokens/client-secret";
import type { ProviderEnv } from "../types";
import { endpointAddresses } from "./discovery";
import { tokenRequestProof } from "./token";

type Ctx = Context<ProviderEnv>;

/**
 * `POST /o/par/` (RFC 9126 §2): the client authenticates as at the token endpoint and pushes its
 * authorization request, which is checked exactly as the authorization endpoint checks it; every
 * error is answered here as JSON (§2.3), never redirected. The answer is a `request_uri` that
 * holds the sealed request, for `/o/authorize/?client_id=…&request_uri=…`, once, within `expires_in`.
 */
export async function parEndpoint(c: Ctx): Promise<Response> {
  const settings = c.get("settings");
  if (c.req.query("client_secret") !== undefined || c.req.query("client_assertion") !== undefined) {
    throw invalidRequest("client credentials must not be sent in the query string");
  }
  const params = await readFormBody(c.req.raw, settings.MAX_BODY_BYTES);
  const db = c.get("db");
  const endpoints = endpointAddresses(c.get("endpointBase"));
  const assertion = clientAssertionContext(c.var, { token: endpoints.token_endpoint, here: endpoints.pushed_authorization_request_endpoint });
  const { client } = await authenticateClient(db, settings, c.req.header("authorization"), params, assertion);
  c.set("clientOrigins", client.allowedOrigins);
  // §2.1: a pushed request cannot itself point at another one.
  if (params.has("request_uri")) throw invalidRequest("request_uri must not be sent to the PAR endpoint");
  if (params.get("client_id") !== undefined && params.get("client_id") !== client.id) {
    throw invalidRequest("client_id does not match the authenticated client");
  }

  // RFC 9449 §10.1: a DPoP proof here binds the code to its key, as dpop_jkt does (both: they must agree).
  const proof = await tokenRequestProof(c, endpoints.pushed_authorization_request_endpoint, false, false);
  const dpopJkt = params.get("dpop_jkt");
  if (proof && dpopJkt !== undefined && dpopJkt !== proof.jkt) {
    throw new OAuthError("invalid_dpop_proof", "the DPoP proof's key is not the one dpop_jkt names");
  }

  // The authorization endpoint's own checks, in its order; their errors become this JSON answer.
  // A client that authenticated with Basic or an assertion may leave client_id out of the body.
  const added: [string, string][] = [
    ...(params.has("client_id") ? [] : [["client_id", client.id] as [string, string]]),
    ...(proof && dpopJkt === undefined ? [["dpop_jkt", proof.jkt] as [string, string]] : []),
  ];
  const request = added.length === 0 ? params : parseParams(new URLSearchParams([...params.entries(), ...added]).toString());
  const trusted = await checkClientAndRedirect(db, settings, request);
  const target = responseTarget(request, trusted.redirectUri);
  if (target.modeError) throw target.modeError;
  checkAuthorizationRequest(request, settings, trusted, target, c.get("audience"));
  const pushed = await pushRequest(c.var.secret(), settings, client.id, request);
  return c.json(pushed, 201, { "Cache-Control": "no-store", Pragma: "no-cache" });
}
