/**
 * The shared parts of the OpenAPI document (its `components`): security schemes, parameters,
 * headers, responses and schemas that the endpoint table (openapi-endpoints.ts) refers to.
 * Descriptions never name the mount path: paths are relative to the document's server URL.
 */
import { RESPONSE_TYPES } from "../authorization/request";
import { SIGNING_ALGORITHMS } from "../core/protocol";
import { endpointAddresses } from "./discovery";

/** A JSON value, as the document holds them. */
export type Json = string | number | boolean | null | Json[] | JsonObject;
export type JsonObject = { [key: string]: Json | undefined };

export type ComponentKind = "securitySchemes" | "parameters" | "headers" | "responses" | "schemas";

/** A reference to one of the components below. */
export const ref = (kind: ComponentKind, name: string): JsonObject => ({ $ref: `#/components/${kind}/${name}` });
export const response = (name: string) => ref("responses", name);
export const parameter = (name: string) => ref("parameters", name);
export const schema = (name: string) => ref("schemas", name);
export const header = (name: string) => ref("headers", name);

export const text: JsonObject = { type: "string" };
/** A string with a description. */
export const described = (description: string, extra: JsonObject = {}): JsonObject => ({ type: "string", description, ...extra });
export const htmlContent: JsonObject = { "text/html": { schema: text } };
export const jsonContent = (schema: JsonObject, example?: JsonObject): JsonObject => ({
  "application/json": example ? { schema, example } : { schema },
});
/** A JSON error response (the RFC 6749 §5.2 object) with its own description. */
export const oauthError = (description: string, headers?: JsonObject): JsonObject => ({
  description,
  ...(headers ? { headers } : {}),
  content: jsonContent(schema("OAuthError")),
});
const withChallenge = { "WWW-Authenticate": header("WWWAuthenticate") };
/** A form-urlencoded request body. */
export const formBody = (schema: JsonObject, required = true): JsonObject => ({
  required,
  content: { "application/x-www-form-urlencoded": { schema } },
});
/** A JSON request body (registration, RFC 7591 §3.1). */
export const jsonBody = (schema: JsonObject): JsonObject => ({ required: true, content: jsonContent(schema) });
/** An object schema from its properties; `required` names the required ones. */
export const object = (properties: JsonObject, required?: string[], extra: JsonObject = {}): JsonObject => ({
  type: "object",
  ...(required ? { required } : {}),
  properties,
  ...extra,
});
/** A request schema: the client authentication fields and the request's own. */
const withClientAuth = (own: JsonObject, description?: string): JsonObject => ({
  ...(description ? { description } : {}),
  allOf: [schema("ClientAuthenticationFields"), own],
});
const queryParameter = (name: string, description: string, schema: JsonObject = text, extra: JsonObject = {}): JsonObject => ({
  name,
  in: "query",
  ...extra,
  description,
  schema,
});
const strings: JsonObject = { type: "array", items: text };
const uri: JsonObject = { type: "string", format: "uri" };
/** RFC 8707 `resource` in a form body: repeated, one value per field. */
const resources = (description: string): JsonObject => ({ type: "array", items: uri, maxItems: 10, description });

const securitySchemes: Record<string, JsonObject> = {
  clientSecretBasic: {
    type: "http",
    scheme: "basic",
    description:
      "`client_secret_basic` (RFC 6749 §2.3.1): the form-urlencoded client id and secret. The alternatives, not expressible as a scheme here: `client_secret_post` (`client_id` and `client_secret` in the form body) and, for public clients, `client_id` alone in the body; these are the empty `{}` entries of `security`.",
  },
  bearer: {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description:
      "An access token of this server (RFC 9068 JWT) in the Authorization header (RFC 6750 §2.1). The scopes listed per operation are the ones it needs.",
  },
  dpop: {
    type: "http",
    scheme: "DPoP",
    description:
      "A DPoP-bound access token (RFC 9449 §7.1): `Authorization: DPoP <token>` with a `DPoP` proof header signed by the bound key, carrying this request's `htm` and `htu` and `ath` (the token's SHA-256). A bound token sent as Bearer, or an unbound one as DPoP, is refused (`invalid_token`).",
  },
  initialAccessToken: {
    type: "http",
    scheme: "bearer",
    description:
      "RFC 7591 §3: an initial access token that the admin CLI issues (`initial-token create`), needed to register when `DYNAMIC_REGISTRATION=token`; each registration spends one of its uses.",
  },
  registrationAccessToken: {
    type: "http",
    scheme: "bearer",
    description: "RFC 7592 §1.2: the `registration_access_token` a client got when it registered; it manages that client only.",
  },
  sessionCookie: {
    type: "apiKey",
    in: "cookie",
    name: "__Host-eot_session",
    description: "The browser's sign-in, set by `login/` (`eot_session` on http loopback).",
  },
};

const parameters: Record<string, JsonObject> = {
  DPoP: {
    name: "DPoP",
    in: "header",
    description:
      "A DPoP proof (RFC 9449 §4): one compact JWS, `typ: dpop+jwt`, an asymmetric `alg` of `dpop_signing_alg_values_supported` with the public `jwk` in its header; `htm` and `htu` of this request (no query), `iat` within `DPOP_PROOF_WINDOW_SECONDS`, a fresh `jti`, the server's `nonce` when `DPOP_NONCE` is on, and `ath` only at resource endpoints. At the token endpoint it binds the tokens to its key (`token_type: DPoP`, `cnf.jkt`); failures are `invalid_dpop_proof` or `use_dpop_nonce`.",
    schema: text,
  },
  response_type: queryParameter(
    "response_type",
    "`code` (with PKCE), or the OpenID Connect implicit and hybrid types, which need the `implicit` grant. Tokens are never returned in the query.",
    schema("ResponseType"),
    { required: true },
  ),
  client_id: queryParameter("client_id", "The client's id.", text, { required: true }),
  client_id_optional: queryParameter("client_id", "The client asking; needed for `post_logout_redirect_uri` when there is no `id_token_hint`."),
  redirect_uri: queryParameter(
    "redirect_uri",
    "Must be registered, exactly (RFC 9700 §4.1.3); only a `http://127.0.0.1` or `http://[::1]` URI may differ in its port (RFC 8252 §7.3). Optional when the client registered exactly one.",
    uri,
  ),
  scope: queryParameter(
    "scope",
    "Space-separated. Without it, `DEFAULT_SCOPES`. Clients with a redirect grant may always ask for `openid profile email address phone offline_access`.",
    text,
    { example: "openid profile email" },
  ),
  state: queryParameter("state", "Returned unchanged in the response."),
  resource: queryParameter(
    "resource",
    "RFC 8707: an API the tokens are for, which becomes their `aud`; repeat the parameter for several (at most 10). An absolute URI in normal form without a fragment, known to this server (the default audience, `RESOURCES`, or a URL under one of them) and allowed for the client; `invalid_target` otherwise. Without it, the default audience.",
    { type: "array", items: uri, maxItems: 10 },
    { style: "form", explode: true },
  ),
  code_challenge: queryParameter(
    "code_challenge",
    "PKCE (RFC 7636). Required for public clients, or for every client with `PKCE_REQUIRED=all`.",
    { type: "string", minLength: 43, maxLength: 128 },
  ),
  code_challenge_method: queryParameter("code_challenge_method", "`S256`; `plain` only with `PKCE_ALLOW_PLAIN=true`.", {
    type: "string",
    enum: ["S256", "plain"],
  }),
  dpop_jkt: queryParameter(
    "dpop_jkt",
    "RFC 9449 §10: the JWK SHA-256 thumbprint of the DPoP key the code may be redeemed with (a token request without that key's proof is `invalid_grant`).",
    { type: "string", pattern: "^[A-Za-z0-9_-]{43}$" },
  ),
  response_mode: queryParameter(
    "response_mode",
    "Default `query` for `code`, `fragment` for types returning tokens (which may not use `query`).",
    { type: "string", enum: ["query", "fragment", "form_post"] },
  ),
  nonce: queryParameter("nonce", "Copied into the ID token. Required for the implicit and hybrid types with `openid`.", {
    type: "string",
    maxLength: 512,
  }),
  prompt: queryParameter(
    "prompt",
    "Space-separated `login`, `consent`, `select_account` (treated as `login`), or `none` alone (then `login_required` or `consent_required` instead of a page).",
    text,
    { example: "consent" },
  ),
  max_age: queryParameter("max_age", "Seconds since the user signed in after which they must sign in again.", { type: "integer", minimum: 0 }),
  login_hint: queryParameter("login_hint", "Prefills the username on the sign-in form."),
  request_uri: queryParameter(
    "request_uri",
    "RFC 9126 §4: the `request_uri` the PAR endpoint (`par/`) answered, with the same client's `client_id`; it stands for the whole pushed request (other parameters are ignored). Expired (`PAR_EXPIRE_SECONDS`), forged, another client's or used: `invalid_request_uri` on an error page. Used once: spent when the answer (a code, tokens or an error) is given.",
  ),
  id_token_hint: queryParameter(
    "id_token_hint",
    "An ID token this server issued to the client (expired is fine). At the authorization endpoint: the user must be that `sub`, or sign in again.",
  ),
  claims: {
    name: "claims",
    in: "query",
    description:
      "OpenID Connect Core §5.5: JSON with `userinfo` and/or `id_token` members naming claims to release (at most 4096 characters). A `sub` value in `id_token` restricts which user may be answered for.",
    content: jsonContent(schema("ClaimsRequest")),
  },
  post_logout_redirect_uri: queryParameter(
    "post_logout_redirect_uri",
    "Where to send the browser after signing out; must be one of the client's registered `post_logout_redirect_uris`, exactly.",
    uri,
  ),
  logout_state: queryParameter("state", "Added to `post_logout_redirect_uri` after signing out."),
  registered_client_id: {
    name: "client_id",
    in: "path",
    required: true,
    description: "The `client_id` returned at registration (the end of its `registration_client_uri`).",
    schema: text,
  },
};

const headers: Record<string, JsonObject> = {
  NoStore: { description: "`no-store` (with `Pragma: no-cache`).", schema: { type: "string", const: "no-store" } },
  WWWAuthenticate: {
    description:
      '`Bearer realm="...", error="...", error_description="..."` (RFC 6750 §3), or `Basic realm="oauth", charset="UTF-8"` when Basic client authentication failed.',
    schema: text,
  },
  Location: { description: "Where the browser goes next.", schema: { type: "string", format: "uri-reference" } },
  DPoPNonce: { description: "RFC 9449 §8: the server nonce the next DPoP proof must carry (`DPOP_NONCE`).", schema: text },
  SetCookie: { description: "The session cookie (HttpOnly, SameSite=Lax, Secure except on http loopback).", schema: text },
  Allow: { description: "The methods this endpoint accepts.", schema: text },
  AnyOrigin: { description: "`*`.", schema: { type: "string", const: "*" } },
  PublicFiveMinutes: { description: "`public, max-age=300`.", schema: text },
};

const noStoreHeaders: JsonObject = { "Cache-Control": header("NoStore") };

const responses: Record<string, JsonObject> = {
  AuthorizationPage: {
    description:
      "An HTML page: the consent page (its form posts back to `authorize/`), or, with `response_mode=form_post`, a self-submitting form that posts the response to the redirect URI.",
    content: htmlContent,
  },
  AuthorizationRedirect: {
    description:
      "To the sign-in page (`login/?next=...`), or to the client's redirect URI with the response in the query or the fragment: `code`, or `access_token`, `token_type`, `expires_in`, `scope`, `id_token` (implicit, hybrid), and `session_state` for OpenID requests (Session Management 1.0, when SESSION_MANAGEMENT is on); or `error` (`invalid_request`, `unauthorized_client`, `access_denied`, `unsupported_response_type`, `invalid_scope`, `invalid_target`, `server_error`, `login_required`, `consent_required`, `request_not_supported`, `request_uri_not_supported`) and `error_description`; always `state` (when sent) and `iss`.",
    headers: { Location: header("Location") },
  },
  ErrorPage: {
    description:
      "An HTML error page: the request cannot be trusted to redirect (unknown `client_id`, unregistered `redirect_uri`, malformed query), a CSRF failure (403), or a body too large (413).",
    content: htmlContent,
  },
  HtmlPage: { description: "An HTML page.", content: htmlContent },
  InvalidRequest: oauthError("`invalid_request`: a missing or repeated parameter, malformed body, or wrong content type."),
  InvalidClient: {
    description:
      "`invalid_client`: unknown client, wrong secret, or a confidential client without its secret. `WWW-Authenticate: Basic` when Basic authentication was tried.",
    headers: withChallenge,
    content: jsonContent(schema("OAuthError"), { error: "invalid_client", error_description: "client authentication failed" }),
  },
  MethodNotAllowed: oauthError("`invalid_request`: another method than the documented ones.", { Allow: header("Allow") }),
  TooLarge: oauthError("`invalid_request`: the body is larger than `MAX_BODY_BYTES`."),
  ServerError: oauthError("`server_error`, e.g. a missing or invalid setting (`SIGNING_KEYS`, `SECRET_KEY`): the description names it."),
  Preflight: {
    description:
      "CORS preflight. For an origin some client registered (`allowed_origins`): `Access-Control-Allow-Origin` set to it, with the allowed methods and headers; for other origins, no CORS headers.",
  },
  BearerInvalidRequest: oauthError(
    "`invalid_request` (RFC 6750 §3.1): a token in the query string, a malformed Authorization header, or a token sent two ways.",
    withChallenge,
  ),
  BearerInvalidToken: {
    description: "No token, or `invalid_token`: malformed, badly signed, expired, revoked, or of another issuer or audience.",
    headers: withChallenge,
    content: jsonContent(schema("OAuthError"), { error: "invalid_token", error_description: "the access token has expired" }),
  },
  BearerInsufficientScope: oauthError(
    "`insufficient_scope`: the token lacks a scope this resource needs (named in the challenge's `scope`).",
    withChallenge,
  ),
  TooManyRequests: oauthError("`too_many_requests` (429): too many requests from this address (a per-address rate limit); `Retry-After` says when to try again."),
  RegistrationOff: oauthError(
    "`invalid_request` with 404: dynamic registration is off (`DYNAMIC_REGISTRATION=off`, the default), so the endpoint does not exist.",
  ),
  ClientInformation: {
    description: "The client as registered (RFC 7591 §3.2.1, RFC 7592 §3).",
    headers: noStoreHeaders,
    content: jsonContent(schema("ClientInformation")),
  },
  InvalidClientMetadata: oauthError(
    "`invalid_redirect_uri`, `invalid_client_metadata` or `invalid_software_statement` (RFC 7591 §3.2.2): the metadata is refused; or `invalid_request`: not JSON, not `application/json`, or (update) a `client_id`, `client_secret` or server-set field that does not belong.",
  ),
  RegistrationTokenRequired: {
    description:
      "No token (a bare `WWW-Authenticate: Bearer` challenge), or `invalid_token`: unknown, expired or used up (initial access token), or not this client's (registration access token: also when the client does not exist, so the answer never says which ids do).",
    headers: withChallenge,
    content: jsonContent(schema("OAuthError"), { error: "invalid_token", error_description: "the registration access token is not valid for this client" }),
  },
  AnyOriginPreflight: { description: "CORS preflight: any origin (`Access-Control-Allow-Origin: *`), for browser-based clients." },
  UserInfo: { description: "The user's claims.", headers: { "Cache-Control": header("NoStore") }, content: jsonContent(schema("UserInfo")) },
  ServerMetadata: {
    description: "The server's metadata. `Cache-Control: public, max-age=300`; `Access-Control-Allow-Origin: *`.",
    headers: { "Cache-Control": header("PublicFiveMinutes"), "Access-Control-Allow-Origin": header("AnyOrigin") },
    content: jsonContent(schema("ServerMetadata")),
  },
};

const claimsRequestMember: JsonObject = {
  oneOf: [{ type: "null" }, object({ essential: { type: "boolean" }, value: {}, values: { type: "array" } })],
};

const USERINFO_CLAIMS: [string, string][] = [
  ..."sub name given_name family_name middle_name nickname preferred_username profile picture website gender birthdate zoneinfo locale"
    .split(" ")
    .map((name): [string, string] => [name, "string"]),
  ["updated_at", "integer"],
  ["email", "string"],
  ["email_verified", "boolean"],
  ["address", "object"],
  ["phone_number", "string"],
  ["phone_number_verified", "boolean"],
];

const METADATA_URIS =
  "issuer authorization_endpoint device_authorization_endpoint token_endpoint userinfo_endpoint jwks_uri end_session_endpoint check_session_iframe revocation_endpoint introspection_endpoint registration_endpoint";
const METADATA_LISTS =
  "scopes_supported response_modes_supported grant_types_supported token_endpoint_auth_methods_supported revocation_endpoint_auth_methods_supported introspection_endpoint_auth_methods_supported code_challenge_methods_supported claims_supported claim_types_supported prompt_values_supported";
const METADATA_FLAGS =
  "claims_parameter_supported request_parameter_supported request_uri_parameter_supported require_request_uri_registration authorization_response_iss_parameter_supported backchannel_logout_supported backchannel_logout_session_supported frontchannel_logout_supported frontchannel_logout_session_supported";

const fieldsOf = (names: string, schema: JsonObject): JsonObject => Object.fromEntries(names.split(" ").map((name) => [name, schema]));

const schemas: Record<string, JsonObject> = {
  OAuthError: object(
    {
      error: {
        type: "string",
        examples:
          "invalid_request invalid_client invalid_grant unauthorized_client unsupported_grant_type invalid_scope invalid_target unsupported_token_type invalid_token insufficient_scope invalid_redirect_uri invalid_client_metadata invalid_software_statement authorization_pending slow_down access_denied expired_token invalid_dpop_proof use_dpop_nonce server_error".split(
            " ",
          ),
      },
      error_description: described("Human-readable, in English."),
    },
    ["error", "error_description"],
    { description: "RFC 6749 §5.2 error object." },
  ),
  ResponseType: { type: "string", description: "Space-separated values, in any order.", enum: RESPONSE_TYPES },
  AuthorizationRequest: object(
    {
      response_type: schema("ResponseType"),
      client_id: text,
      redirect_uri: uri,
      scope: text,
      state: text,
      resource: resources("The APIs the tokens are for (RFC 8707), one field each."),
      code_challenge: text,
      code_challenge_method: { type: "string", enum: ["S256", "plain"] },
      dpop_jkt: { type: "string", pattern: "^[A-Za-z0-9_-]{43}$" },
      response_mode: { type: "string", enum: ["query", "fragment", "form_post"] },
      nonce: { type: "string", maxLength: 512 },
      prompt: text,
      max_age: { type: "string", pattern: "^[0-9]{1,10}$" },
      login_hint: text,
      id_token_hint: text,
      claims: { type: "string", contentMediaType: "application/json", maxLength: 4096 },
    },
    ["response_type", "client_id"],
    { description: "The authorization request's parameters (see the GET operation)." },
  ),
  ConsentDecision: {
    description: "The consent form: the request's fields carried as hidden inputs (for a pushed request, only `client_id` and a `request_uri`), the CSRF token, and the user's choice.",
    allOf: [
      schema("AuthorizationRequest"),
      object(
        {
          csrfmiddlewaretoken: text,
          allow: described("Present: approve. Absent: deny (`access_denied`)."),
          cancel: text,
        },
        ["csrfmiddlewaretoken"],
      ),
    ],
  },
  ClaimsRequest: object({ userinfo: schema("ClaimsRequestMembers"), id_token: schema("ClaimsRequestMembers") }),
  ClaimsRequestMembers: { type: "object", additionalProperties: claimsRequestMember },
  ClientAuthenticationFields: object(
    {
      client_id: text,
      client_secret: text,
      client_assertion_type: { type: "string", enum: ["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"] },
      client_assertion: described(
        "`private_key_jwt` or `client_secret_jwt` (RFC 7523, OIDC Core §9): a JWT with `iss` = `sub` = the client id, `aud` the issuer, the token endpoint or this endpoint's URL, `exp` at most 5 minutes ahead, and a `jti` used once.",
      ),
    },
    undefined,
    {
      description:
        "`client_secret_post`: `client_id` and `client_secret`; JWT clients: `client_assertion_type` and `client_assertion` (and `client_id` optionally); public clients: `client_id` alone. One method only: not with HTTP Basic (except a `client_id` equal to Basic's).",
    },
  ),
  PushedAuthorizationRequest: withClientAuth(
    { $ref: "#/components/schemas/AuthorizationRequest" },
    "RFC 9126 §2.1: the authorization request's parameters (`request_uri` is refused), with the client's authentication as at the token endpoint.",
  ),
  PushedAuthorizationResponse: object(
    {
      request_uri: described("`urn:ietf:params:oauth:request_uri:` and the sealed request (AES-256-GCM under SECRET_KEY)."),
      expires_in: { type: "integer", description: "Seconds (`PAR_EXPIRE_SECONDS`, 60)." },
    },
    ["request_uri", "expires_in"],
    { description: "RFC 9126 §2.2." },
  ),
  TokenRequest: {
    oneOf: ["AuthorizationCode", "RefreshToken", "ClientCredentials", "Password", "DeviceCode", "TokenExchange"].map((grant) => schema(`${grant}TokenRequest`)),
    discriminator: {
      propertyName: "grant_type",
      mapping: {
        authorization_code: "#/components/schemas/AuthorizationCodeTokenRequest",
        refresh_token: "#/components/schemas/RefreshTokenTokenRequest",
        client_credentials: "#/components/schemas/ClientCredentialsTokenRequest",
        password: "#/components/schemas/PasswordTokenRequest",
        "urn:ietf:params:oauth:grant-type:device_code": "#/components/schemas/DeviceCodeTokenRequest",
        "urn:ietf:params:oauth:grant-type:token-exchange": "#/components/schemas/TokenExchangeTokenRequest",
      },
    },
  },
  AuthorizationCodeTokenRequest: withClientAuth(
    object(
      {
        grant_type: { type: "string", const: "authorization_code" },
        code: described("Valid for `AUTHORIZATION_CODE_EXPIRE_SECONDS` (60)."),
        redirect_uri: described("Required, and equal, when the authorization request sent one."),
        code_verifier: described("Required when the authorization request had a `code_challenge`."),
        resource: resources("Some of the resources the authorization request named (`invalid_target` otherwise): the access token is for these. Without it, all of them."),
      },
      ["grant_type", "code"],
    ),
    "RFC 6749 §4.1.3 with PKCE. The code is single use: a second redemption fails and revokes the tokens issued from it. Returns a refresh token when the client has the `refresh_token` grant, and an ID token when `openid` was granted.",
  ),
  RefreshTokenTokenRequest: withClientAuth(
    object(
      {
        grant_type: { type: "string", const: "refresh_token" },
        refresh_token: text,
        scope: described("A subset of the granted scope (`invalid_scope` otherwise)."),
        resource: resources("Some of the grant's resources (`invalid_target` otherwise): the access token is for these; the refresh token keeps them all."),
      },
      ["grant_type", "refresh_token"],
    ),
    "RFC 6749 §6. With `ROTATE_REFRESH_TOKEN` (default) and always for public clients, a new refresh token replaces the old one; presenting a replaced one again revokes the whole grant. A new ID token when the grant has `openid`.",
  ),
  ClientCredentialsTokenRequest: withClientAuth(
    object(
      {
        grant_type: { type: "string", const: "client_credentials" },
        scope: described("Without it, `DEFAULT_SCOPES`."),
        resource: resources("The APIs the token is for (RFC 8707); without it, the default audience."),
      },
      ["grant_type"],
    ),
    "RFC 6749 §4.4: confidential clients only. No refresh token.",
  ),
  PasswordTokenRequest: withClientAuth(
    object(
      {
        grant_type: { type: "string", const: "password" },
        username: text,
        password: { type: "string", format: "password" },
        scope: text,
        resource: resources("The APIs the tokens are for (RFC 8707)."),
      },
      ["grant_type", "username", "password"],
    ),
    "RFC 6749 §4.3, for DOT parity: only clients registered with the `password` grant. Failed attempts are throttled per username.",
  ),
  DeviceCodeTokenRequest: withClientAuth(
    object(
      {
        grant_type: { type: "string", const: "urn:ietf:params:oauth:grant-type:device_code" },
        device_code: described("From the device authorization response; valid for `DEVICE_CODE_EXPIRE_SECONDS` (600)."),
        resource: resources("Some of the resources the device authorization request named (`invalid_target` otherwise)."),
      },
      ["grant_type", "device_code"],
    ),
    "RFC 8628 §3.4: the device polls, no faster than `interval` seconds. Until the user decides: `authorization_pending`, or `slow_down` (the interval grows by 5 s) when polled too fast; then `access_denied` or the tokens, once (a second redemption is `invalid_grant`); after the lifetime, `expired_token`. Tokens as for the code grant: a refresh token with the `refresh_token` grant, an ID token when `openid` was approved.",
  ),
  TokenExchangeTokenRequest: withClientAuth(
    object(
      {
        grant_type: { type: "string", const: "urn:ietf:params:oauth:grant-type:token-exchange" },
        subject_token: described("A user's access token from this server, issued for a resource the client serves (one of its registered `resources`)."),
        subject_token_type: { type: "string", const: "urn:ietf:params:oauth:token-type:access_token" },
        requested_token_type: { type: "string", const: "urn:ietf:params:oauth:token-type:access_token", description: "The only type issued; the default." },
        scope: described("A subset of the subject token's scope, allowed for the client (`invalid_scope` otherwise). Without it, the subject token's scope limited to the client's."),
        resource: resources("The APIs the new token is for (RFC 8707); `invalid_target` when unknown or not allowed for the client. Without it (and `audience`), the default audience."),
        audience: resources("RFC 8693 §2.1: like `resource` (the target services' identifiers are their resource URIs here)."),
      },
      ["grant_type", "subject_token", "subject_token_type"],
    ),
    "RFC 8693, impersonation: a resource server trades a user's access token for a narrower one for a downstream API. Confidential clients registered with the grant only (`unauthorized_client`). `actor_token` (delegation) is refused (`invalid_request`), as is any other token type. An invalid, expired or revoked subject token, one not issued for a resource the client serves, a client_credentials token or an already exchanged token: `invalid_grant`. The new token keeps the user's `sub` and grant (`gid`), names the subject token's client in `origin_client_id`, expires no later than the subject token, and comes with `issued_token_type`; no refresh token.",
  ),
  DeviceAuthorizationRequest: withClientAuth(
    object({
      scope: described("Without it, `DEFAULT_SCOPES`. Checked as at the authorization endpoint (`invalid_scope`)."),
      resource: resources("The APIs the tokens are for (RFC 8707); `invalid_target` when unknown or not allowed for the client."),
    }),
    "RFC 8628 §3.1. Client authentication as at the token endpoint; the client must have the device_code grant (`unauthorized_client`).",
  ),
  DeviceAuthorizationResponse: object(
    {
      device_code: described("Opaque, high-entropy; stored only as its SHA-256 hash."),
      user_code: described("8 letters from BCDFGHJKLMNPQRSTVWXZ, shown as XXXX-XXXX; accepted in any case, with or without the dash."),
      verification_uri: { ...uri, description: "The verification page (`device/`)." },
      verification_uri_complete: { ...uri, description: "The page with the code filled in (the user still confirms it)." },
      expires_in: { type: "integer", description: "Seconds (`DEVICE_CODE_EXPIRE_SECONDS`, 600)." },
      interval: { type: "integer", description: "Seconds between polls (5)." },
    },
    ["device_code", "user_code", "verification_uri", "verification_uri_complete", "expires_in", "interval"],
    { description: "RFC 8628 §3.2." },
  ),
  TokenResponse: object(
    {
      access_token: described("An RFC 9068 JWT (`typ: at+jwt`), signed with `ACCESS_TOKEN_SIGNING_ALG` (ES256)."),
      token_type: { type: "string", enum: ["Bearer", "DPoP"], description: "`DPoP` when a DPoP proof came with the request: the access token carries `cnf.jkt` (RFC 9449 §5)." },
      expires_in: { type: "integer", description: "Seconds (`ACCESS_TOKEN_EXPIRE_SECONDS`)." },
      scope: described("The granted scope, space-separated."),
      refresh_token: described("Opaque."),
      id_token: described("When `openid` was granted; signed with the client's ID token algorithm (RS256 by default)."),
      issued_token_type: { type: "string", const: "urn:ietf:params:oauth:token-type:access_token", description: "Token Exchange only (RFC 8693 §2.2.1)." },
    },
    ["access_token", "token_type", "expires_in", "scope"],
    {
      description: "RFC 6749 §5.1.",
      example: {
        access_token: "eyJhbGciOiJFUzI1NiIs...",
        token_type: "Bearer",
        expires_in: 3600,
        scope: "openid read",
        refresh_token: "...",
        id_token: "eyJhbGciOiJSUzI1NiIs...",
      },
    },
  ),
  RevocationRequest: withClientAuth(
    object({ token: text, token_type_hint: { type: "string", enum: ["access_token", "refresh_token"] } }, ["token"]),
  ),
  IntrospectionRequest: withClientAuth(
    object(
      {
        token: described("An access token or a refresh token."),
        token_type_hint: described("Accepted and ignored: the token's shape decides."),
      },
      ["token"],
    ),
  ),
  IntrospectionResponse: {
    oneOf: [
      object({ active: { const: false } }, ["active"], { title: "Inactive", additionalProperties: false }),
      object(
        {
          active: { const: true },
          scope: text,
          client_id: text,
          username: described("For tokens of a user."),
          token_type: { type: "string", enum: ["Bearer", "DPoP", "refresh_token"] },
          cnf: { type: "object", properties: { jkt: text }, description: "A DPoP-bound access token's key thumbprint (RFC 9449 §6.2); the resource server checks the proof." },
          exp: { type: "integer" },
          iat: { type: "integer" },
          nbf: { type: "integer" },
          sub: text,
          aud: { oneOf: [text, strings], description: "Access tokens only." },
          iss: text,
          jti: described("Access tokens only."),
        },
        ["active", "scope", "client_id", "token_type", "exp", "iat", "sub", "iss"],
        { title: "Active" },
      ),
    ],
  },
  UserInfo: object(
    Object.fromEntries(USERINFO_CLAIMS.map(([name, type]) => [name, { type }])),
    ["sub"],
    {
      description: "`sub` and the claims of the granted scopes that the user has (OpenID Connect Core §5.1, §5.4).",
      additionalProperties: true,
    },
  ),
  LogoutRequest: object({
    id_token_hint: text,
    client_id: text,
    post_logout_redirect_uri: uri,
    state: text,
    ui_locales: text,
    logout_hint: text,
    csrfmiddlewaretoken: described("The confirmation form's CSRF token."),
    logout: described("The confirmation form's button."),
  }),
  ServerMetadata: object(
    {
      ...fieldsOf(METADATA_URIS, uri),
      ...fieldsOf(METADATA_LISTS, strings),
      ...fieldsOf(METADATA_FLAGS, { type: "boolean" }),
      response_types_supported: { type: "array", items: schema("ResponseType") },
      subject_types_supported: { type: "array", items: { type: "string", enum: ["public", "pairwise"] } },
      id_token_signing_alg_values_supported: { ...strings, description: "The algorithms of the keys in SIGNING_KEYS." },
    },
    "issuer authorization_endpoint token_endpoint jwks_uri response_types_supported subject_types_supported id_token_signing_alg_values_supported".split(" "),
    { description: "OpenID Connect Discovery 1.0 §3 and RFC 8414 §2, from the same tables the endpoints use." },
  ),
  ClientMetadata: object(
    {
      redirect_uris: { ...strings, description: "https, or http on a loopback address; no fragment. Required with the `authorization_code` grant." },
      token_endpoint_auth_method: {
        type: "string",
        enum: ["client_secret_basic", "client_secret_post", "none"],
        description: "Default `client_secret_basic`. `none`: a public client (PKCE, no secret). The token endpoint then accepts this method only.",
      },
      grant_types: {
        type: "array",
        items: { type: "string", enum: ["authorization_code", "refresh_token", "client_credentials"] },
        description: "Default `[\"authorization_code\"]`. OAuth 2.1's grants only: no `implicit`, no `password`.",
      },
      response_types: { type: "array", items: { type: "string", const: "code" }, description: "`[\"code\"]` exactly when `authorization_code` is a grant." },
      client_name: text,
      scope: described("Space-separated; every scope must be one this server has."),
      post_logout_redirect_uris: strings,
      application_type: { type: "string", enum: ["web", "native"] },
      id_token_signed_response_alg: { type: "string", enum: [...SIGNING_ALGORITHMS] },
      subject_type: { type: "string", enum: ["public", "pairwise"] },
      dpop_bound_access_tokens: { type: "boolean", description: "RFC 9449 §5.2: token requests without a DPoP proof are refused (`invalid_dpop_proof`). Default false." },
      backchannel_logout_uri: {
        ...uri,
        description: "OIDC Back-Channel Logout 1.0: a logout token (`logout_token`, with `sub`, `sid` and the logout event) is POSTed here when a browser session the client signed in from ends. https; no fragment.",
      },
      backchannel_logout_session_required: { type: "boolean", description: "Logout tokens carry `sid` whether or not this is set. Default false." },
      frontchannel_logout_uri: {
        ...uri,
        description: "OIDC Front-Channel Logout 1.0: framed by the sign-out page. On the origin of a redirect URI; no fragment.",
      },
      frontchannel_logout_session_required: { type: "boolean", description: "The framed address gets `iss` and `sid` in its query. Default false." },
      ...fieldsOf("client_uri logo_uri tos_uri policy_uri", uri),
      contacts: strings,
      software_id: text,
      software_version: text,
    },
    undefined,
    {
      description:
        "RFC 7591 §2 client metadata. Members this server does not know are ignored; `software_statement` is refused (`invalid_software_statement`).",
      additionalProperties: true,
    },
  ),
  ClientUpdate: {
    description:
      "RFC 7592 §2.2: the whole metadata again (it replaces the registration; omitted members are unset), with the client's `client_id`. `client_secret`, if sent, must be the client's. `registration_access_token`, `registration_client_uri`, `client_id_issued_at` and `client_secret_expires_at` must not be sent. A public client stays public and a confidential one confidential.",
    allOf: [schema("ClientMetadata"), object({ client_id: text, client_secret: text }, ["client_id"])],
  },
  ClientInformation: {
    allOf: [
      schema("ClientMetadata"),
      object(
        {
          client_id: text,
          client_secret: described("Confidential clients, in the registration response only (it is stored hashed): keep it."),
          client_id_issued_at: { type: "integer" },
          client_secret_expires_at: { type: "integer", const: 0, description: "Confidential clients: the secret does not expire." },
          registration_access_token: described("For the client configuration endpoint (RFC 7592); stored hashed."),
          registration_client_uri: uri,
        },
        ["client_id", "client_id_issued_at", "registration_access_token", "registration_client_uri"],
      ),
    ],
  },
  JWKS: object(
    {
      keys: {
        type: "array",
        items: object(
          {
            kty: { type: "string", enum: ["EC", "RSA", "OKP"] },
            kid: described("The key's RFC 7638 thumbprint when generated by the admin CLI."),
            alg: { type: "string", enum: [...SIGNING_ALGORITHMS] },
            use: { type: "string", const: "sig" },
            ...fieldsOf("crv x y n e", text),
          },
          ["kty", "kid", "alg", "use"],
        ),
      },
    },
    ["keys"],
  ),
};

export const COMPONENTS = { securitySchemes, parameters, headers, responses, schemas };

/** An example of the metadata for the server at `base` (the issuer, when ISSUER has no trailing slash). */
export function metadataExample(base: string): JsonObject {
  return {
    issuer: base,
    ...endpointAddresses(base),
    response_types_supported: RESPONSE_TYPES,
    subject_types_supported: ["public", "pairwise"],
    id_token_signing_alg_values_supported: ["ES256", "RS256"],
    code_challenge_methods_supported: ["S256"],
    authorization_response_iss_parameter_supported: true,
  };
}
