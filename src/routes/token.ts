import type { Context } from "hono";
import { clientAddress } from "../core/client-address";
import { findGrant } from "../grants/index";
import { authenticateClient } from "../oauth/client-auth";
import { invalidRequest, unauthorizedClient, unsupportedGrantType } from "../oauth/errors";
import { readFormBody } from "../oauth/form";
import { clientAssertionContext } from "../tokens/client-secret";
import type { ProviderEnv } from "../types";
import { endpointAddresses } from "./discovery";

/** `POST /o/token/` (RFC 6749 §3.2): authenticate the client, then hand over to the grant. */
export async function tokenEndpoint(c: Context<ProviderEnv>): Promise<Response> {
  const settings = c.get("settings");
  if (c.req.query("client_secret") !== undefined || c.req.query("client_assertion") !== undefined) {
    throw invalidRequest("client credentials must not be sent in the query string");
  }
  const params = await readFormBody(c.req.raw, settings.MAX_BODY_BYTES);
  const grantType = params.require("grant_type");
  const grant = findGrant(grantType);
  if (!grant) throw unsupportedGrantType("this grant_type is not supported");

  const db = c.get("db");
  const endpoints = endpointAddresses(c.get("endpointBase"));
  const assertion = clientAssertionContext(c.var, { token: endpoints.token_endpoint });
  const { client } = await authenticateClient(db, settings, c.req.header("authorization"), params, assertion);
  c.set("clientOrigins", client.allowedOrigins);
  if (!client.grantTypes.includes(grantType)) {
    throw unauthorizedClient(`this client is not allowed the ${grantType} grant`);
  }
  // Keys missing or broken fail here, before a grant writes anything (a spent code, a rotated token).
  await c.get("keys")();
  // `c.var` is a fresh copy of the variables on every read: one read, extended for the grant.
  const response = await grant(Object.assign(c.var, { client, params, clientAddress: clientAddress(c.req.raw.headers) }));
  return c.json(response, 200, { "Cache-Control": "no-store", Pragma: "no-cache" });
}
