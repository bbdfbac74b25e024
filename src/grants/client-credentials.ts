import { unauthorizedClient } from "../oauth/errors";
import { audienceOf, resolveResources } from "../oauth/resource";
import { parseScope, resolveScope } from "../oauth/scope";
import { issueAccessToken } from "../tokens/access-token";
import type { Grant } from "./types";

/**
 * RFC 6749 §4.4: a confidential client gets a token for itself, for the resources it names (RFC
 * 8707) or the default audience. No storage is touched.
 */
export const clientCredentialsGrant: Grant = async ({ client, params, settings, keys, issuer, audience, emit, dpop }) => {
  if (client.clientType !== "confidential") {
    throw unauthorizedClient("only confidential clients may use the client_credentials grant");
  }
  // No user: never the OpenID Connect scopes, even when the client registered them.
  const scope = resolveScope(parseScope(params.get("scope")), client, settings, { forUser: false });
  const resources = resolveResources(params.getAll("resource"), { audience, settings, client });
  const issued = await issueAccessToken(await keys(), settings.ACCESS_TOKEN_SIGNING_ALG, {
    issuer,
    subject: client.id,
    audience: audienceOf(resources),
    clientId: client.id,
    scope,
    lifetimeSeconds: settings.ACCESS_TOKEN_EXPIRE_SECONDS,
    // RFC 9449 §6.1: bound to the DPoP proof's key.
    ...(dpop ? { claims: { cnf: { jkt: dpop.jkt } } } : {}),
  });
  emit({ type: "token.issued", grantType: "client_credentials", clientId: client.id, scope: scope.join(" ") });
  return { access_token: issued.token, token_type: dpop ? "DPoP" : "Bearer", expires_in: issued.expiresIn, scope: scope.join(" ") };
};
