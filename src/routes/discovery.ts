import { DPOP_ALGORITHMS } from "../oauth/dpop";
import type { Context } from "hono";
import { RESPONSE_TYPES } from "../authorization/request";
import { grants } from "../grants/index";
import { OIDC_SCOPES } from "../oauth/scope";
import { SUPPORTED_CLAIMS } from "../oidc/claims";
import type { ProviderEnv } from "../types";
import { ASSERTION_HMAC_ALGORITHMS, ASSERTION_SIGNING_ALGORITHMS } from "../oauth/client-assertion";
import { signingAlgorithms } from "../tokens/keys";

type Ctx = Context<ProviderEnv>;

/** The metadata's endpoint addresses, for endpoints mounted at `base`. */
export function endpointAddresses(base: string) {
  return {
    authorization_endpoint: `${base}/authorize/`,
    device_authorization_endpoint: `${base}/device_authorization/`,
    token_endpoint: `${base}/token/`,
    userinfo_endpoint: `${base}/userinfo/`,
    jwks_uri: `${base}/.well-known/jwks.json`,
    end_session_endpoint: `${base}/logout/`,
    revocation_endpoint: `${base}/revoke_token/`,
    introspection_endpoint: `${base}/introspect/`,
    pushed_authorization_request_endpoint: `${base}/par/`,
  };
}

/** What this server supports, from the same tables the endpoints use, so the two cannot drift. */
async function metadata(c: Ctx): Promise<Record<string, unknown>> {
  const issuer = c.get("issuer");
  const base = c.get("endpointBase");
  const settings = c.get("settings");
  const algorithms = signingAlgorithms(await c.var.keys());
  const clientAuth = ["client_secret_basic", "client_secret_post", "private_key_jwt", "client_secret_jwt"];
  const assertionAlgorithms = [...ASSERTION_SIGNING_ALGORITHMS, ...ASSERTION_HMAC_ALGORITHMS];
  return {
    issuer,
    ...endpointAddresses(base),
    scopes_supported: [...new Set([...Object.keys(OIDC_SCOPES), ...Object.keys(settings.SCOPES)])],
    response_types_supported: RESPONSE_TYPES,
    response_modes_supported: ["query", "fragment", "form_post"],
    grant_types_supported: [...Object.keys(grants), "implicit"],
    subject_types_supported: ["public", "pairwise"],
    id_token_signing_alg_values_supported: algorithms,
    token_endpoint_auth_methods_supported: [...clientAuth, "none"],
    token_endpoint_auth_signing_alg_values_supported: assertionAlgorithms,
    revocation_endpoint_auth_methods_supported: [...clientAuth, "none"],
    revocation_endpoint_auth_signing_alg_values_supported: assertionAlgorithms,
    // Registered method names only (RFC 8414 §2); a resource server's Bearer token with the
    // introspection scope is accepted too, as the endpoint's documentation says.
    introspection_endpoint_auth_methods_supported: clientAuth,
    introspection_endpoint_auth_signing_alg_values_supported: assertionAlgorithms,
    code_challenge_methods_supported: settings.PKCE_ALLOW_PLAIN ? ["S256", "plain"] : ["S256"],
    // RFC 9449 §5.1: DPoP proofs are accepted at the token endpoint, UserInfo and requireToken.
    dpop_signing_alg_values_supported: DPOP_ALGORITHMS,
    claims_supported: SUPPORTED_CLAIMS,
    claims_parameter_supported: true,
    claim_types_supported: ["normal"],
    request_parameter_supported: false,
    request_uri_parameter_supported: false,
    require_request_uri_registration: false,
    prompt_values_supported: ["none", "login", "consent", "select_account"],
    authorization_response_iss_parameter_supported: true,
    // RFC 9126 §5: the PAR endpoint is in endpointAddresses; whether every request must use it.
    require_pushed_authorization_requests: settings.REQUIRE_PUSHED_AUTHORIZATION_REQUESTS,
    // OIDC Back- and Front-Channel Logout 1.0: logout tokens and framed logout pages always carry `sid` (and `iss`) when asked.
    backchannel_logout_supported: true,
    backchannel_logout_session_supported: true,
    frontchannel_logout_supported: true,
    frontchannel_logout_session_supported: true,
    ...(settings.DYNAMIC_REGISTRATION !== "off" ? { registration_endpoint: `${base}/register/` } : {}),
    ...(settings.CLIENT_ID_METADATA_DOCUMENTS ? { client_id_metadata_document_supported: true } : {}),
    ...(settings.SESSION_MANAGEMENT ? { check_session_iframe: `${base}/check_session/` } : {}),
  };
}

/**
 * The server's metadata, one document at every address clients look for it: OpenID Connect
 * Discovery 1.0 (`/o/.well-known/openid-configuration`) and RFC 8414
 * (`/.well-known/oauth-authorization-server/o`, and the issuer-relative forms).
 */
export async function metadataEndpoint(c: Ctx): Promise<Response> {
  return c.json(await metadata(c), 200, { "Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*" });
}
