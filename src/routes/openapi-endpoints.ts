/**
 * The provider's endpoints, one row each, as the OpenAPI document describes them: the one
 * definition the served document (openapi-document.ts) and the reference page are built from.
 * test/worker/openapi.test.ts checks this table against the routes createProvider registers.
 */
import {
  described,
  formBody,
  header,
  htmlContent,
  jsonBody,
  jsonContent,
  object,
  oauthError,
  parameter,
  response,
  schema,
  text,
  type JsonObject,
} from "./openapi-components";

export type Method = "get" | "post" | "put" | "delete" | "options";

/** An OpenAPI operation, with the fields the reference page reads typed. */
export interface Operation {
  tags: string[];
  operationId: string;
  summary: string;
  description?: string;
  /** Alternatives: one scheme name (with its scopes) each; `{}` is "no scheme" (public clients, or none). */
  security: Record<string, string[]>[];
  parameters?: JsonObject[];
  requestBody?: JsonObject;
  responses: Record<string, JsonObject>;
}

export interface Endpoint {
  /** Path under the mount path; with `atOrigin`, the path at the origin the mount path is appended to. */
  path: string;
  /** RFC 8414 §3: the metadata of an issuer with a path lives at `/.well-known/…{path}`, outside the mount path. */
  atOrigin?: boolean;
  operations: Partial<Record<Method, Operation>>;
}

export const TAGS = [
  { name: "OAuth 2.1", description: "Authorization, token, revocation (RFC 7009) and introspection (RFC 7662)." },
  { name: "OpenID Connect", description: "UserInfo, RP-Initiated Logout 1.0 and Session Management 1.0." },
  { name: "Client registration", description: "Dynamic Client Registration (RFC 7591) and its management protocol (RFC 7592), when `DYNAMIC_REGISTRATION` is on." },
  { name: "Browser pages", description: "HTML pages a user's browser is sent to: sign in, consent, sign out." },
  { name: "Metadata", description: "Discovery (OpenID Connect Discovery 1.0, RFC 8414), the JWKS and this document." },
  {
    name: "Operator console",
    description:
      "HTML pages for operators (users with the operator role), when OPERATOR_CONSOLE is on; otherwise every path is 404. A sign-in older than OPERATOR_REAUTH_SECONDS is sent to `login/` first; other users get 403. Each change is a CSRF-checked form POST doing what the admin CLI command of the same name does.",
  },
];

const OAUTH = ["OAuth 2.1"];
const OIDC = ["OpenID Connect"];
const PAGES = ["Browser pages"];
const METADATA = ["Metadata"];
const REGISTRATION = ["Client registration"];

type Security = Operation["security"];
const session: Security = [{ sessionCookie: [] }, {}];
const authorizedClientId = {
  name: "client_id",
  in: "path" as const,
  required: true,
  description: "The client's `client_id`, percent-encoded.",
  schema: { type: "string" as const },
};
const clientAuth: Security = [{ clientSecretBasic: [] }, {}];
const noStore = { "Cache-Control": header("NoStore") };
const publicAnyOrigin = (cacheControl: JsonObject) => ({ "Cache-Control": cacheControl, "Access-Control-Allow-Origin": header("AnyOrigin") });

/** The errors every form-posting JSON endpoint may answer. */
const postErrors = {
  405: response("MethodNotAllowed"),
  413: response("TooLarge"),
  500: response("ServerError"),
};
const bearerErrors = {
  400: response("BearerInvalidRequest"),
  401: response("BearerInvalidToken"),
  403: response("BearerInsufficientScope"),
  405: response("MethodNotAllowed"),
};

const preflight = (tags: string[], operationId: string): Operation => ({
  tags,
  operationId,
  summary: "CORS preflight",
  security: [],
  responses: { 204: response("Preflight") },
});

const metadata = (operationId: string, summary: string, description?: string): Operation => ({
  tags: METADATA,
  operationId,
  summary,
  ...(description ? { description } : {}),
  security: [],
  responses: { 200: response("ServerMetadata"), 500: response("ServerError") },
});

const AUTHORIZATION_PARAMETERS =
  "response_type client_id redirect_uri scope state resource code_challenge code_challenge_method dpop_jkt response_mode nonce prompt max_age login_hint id_token_hint claims request_uri";

/** The application pages (DOT's `applications/`): session, CSRF-checked forms, HTML answers. */
const applicationId = { ...authorizedClientId, description: "The application's `client_id`; another user's, or one the user did not register on these pages, is 404." };
const toLoginOr = (what: string) => ({ description: `${what} (not signed in: to \`login/?next=…\`).`, headers: { Location: header("Location") } });
const notOwned = { description: "Not one of the signed-in user's applications.", content: htmlContent };
const csrfRefused = { description: "The CSRF token is missing or wrong, or Origin is another site's: nothing changed.", content: htmlContent };
const applicationForm = formBody(
  object(
    {
      csrfmiddlewaretoken: described("From the page's form."),
      name: described("The application's name."),
      client_type: described("`confidential` or `public` (fixed once registered)."),
      grant_authorization_code: described("`on` to allow the authorization code grant."),
      grant_refresh_token: described("`on` to allow refresh tokens."),
      grant_client_credentials: described("`on` to allow client credentials (confidential only)."),
      redirect_uris: described("Redirect URIs, one per line."),
      post_logout_redirect_uris: described("Post-logout redirect URIs, one per line."),
      allowed_origins: described("Origins for CORS, one per line."),
      scope: described("Space-separated scopes; `introspection` is refused."),
      skip_authorization: described("`on` to skip the consent page; read only when APPLICATIONS_MAY_SKIP_CONSENT is on."),
    },
    ["csrfmiddlewaretoken", "name", "client_type"],
  ),
);
/** The operator console's pages and forms. */
const CONSOLE = ["Operator console"];
const consoleUserId = { ...authorizedClientId, name: "user_id", description: "The user's id." };
const consoleResponses = {
  303: toLoginOr("Not signed in, or signed in too long ago"),
  403: { description: "Not an operator, or (POST) the CSRF token is missing or wrong: nothing changed.", content: htmlContent },
  404: { description: "OPERATOR_CONSOLE is off, or no such client or user.", content: htmlContent },
};
const consoleGet = (operationId: string, summary: string, parameters: (typeof authorizedClientId)[] = []): Operation => ({
  tags: CONSOLE,
  operationId,
  summary,
  security: session,
  ...(parameters.length > 0 ? { parameters } : {}),
  responses: { 200: response("HtmlPage"), ...consoleResponses },
});
const consolePost = (
  operationId: string,
  summary: string,
  description: string,
  fields: Record<string, string>,
  parameters: (typeof authorizedClientId)[],
  done: Record<number, JsonObject>,
): Operation => ({
  tags: CONSOLE,
  operationId,
  summary,
  description,
  security: session,
  ...(parameters.length > 0 ? { parameters } : {}),
  requestBody: formBody(
    object({ csrfmiddlewaretoken: described("From the page's form."), ...Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, described(v)])) }, [
      "csrfmiddlewaretoken",
    ]),
  ),
  responses: { ...done, 400: { description: "Refused input: the page again with the message; nothing changed.", content: htmlContent }, ...consoleResponses },
});
const redirectsTo = (where: string) => ({ 303: { description: `Done: to ${where}.`, headers: { Location: header("Location") } } });

const pageGet = (operationId: string, summary: string, description: string, parameters: (typeof applicationId)[] = []): Operation => ({
  tags: PAGES,
  operationId,
  summary,
  description,
  security: session,
  ...(parameters.length > 0 ? { parameters } : {}),
  responses: { 200: response("HtmlPage"), 303: toLoginOr("The login page"), ...(parameters.length > 0 ? { 404: notOwned } : {}) },
});

export const ENDPOINTS: Endpoint[] = [
  {
    path: "/authorize/",
    operations: {
      get: {
        tags: OAUTH,
        operationId: "authorize",
        summary: "Authorization endpoint",
        description:
          "RFC 6749 §4.1.1 / §4.2.1 with PKCE (RFC 7636), OpenID Connect Core §3. Checks the client and `redirect_uri` first (errors: an HTML page, never a redirect), then the rest (errors: redirected to the client). A user who is not signed in (or must sign in again: `prompt=login`, `max_age`, an `id_token_hint` for another user) is sent to the sign-in page (`login/`); a client without consent for every requested scope gets the consent page. The response always carries `iss` (RFC 9207) and the request's `state`. `request` is refused (`request_not_supported`); `request_uri` is only a pushed request's (RFC 9126, `par/`). A client that must push its requests (`require_pushed_authorization_requests`, or `REQUIRE_PUSHED_AUTHORIZATION_REQUESTS`) gets `invalid_request` for a request that was not pushed.",
        security: session,
        parameters: AUTHORIZATION_PARAMETERS.split(" ").map(parameter),
        responses: {
          200: response("AuthorizationPage"),
          303: response("AuthorizationRedirect"),
          400: response("ErrorPage"),
          500: response("ServerError"),
        },
      },
      post: {
        tags: OAUTH,
        operationId: "authorizeDecision",
        summary: "Consent decision, or a POSTed authorization request",
        description:
          "Either the consent form's decision (it carries the request's fields, `csrfmiddlewaretoken`, and `allow` to approve; without `allow` the request is denied with `access_denied`), or an authorization request sent with POST (OpenID Connect Core §3.1.2.1), answered as the GET. Any consent-form field makes the POST a decision, which then needs a valid CSRF token (403 page otherwise).",
        security: session,
        requestBody: formBody({ oneOf: [schema("AuthorizationRequest"), schema("ConsentDecision")] }),
        responses: {
          200: response("AuthorizationPage"),
          303: response("AuthorizationRedirect"),
          400: response("ErrorPage"),
          403: response("ErrorPage"),
          413: response("ErrorPage"),
          500: response("ServerError"),
        },
      },
    },
  },
  {
    path: "/token/",
    operations: {
      post: {
        tags: OAUTH,
        operationId: "token",
        summary: "Token endpoint",
        description:
          "RFC 6749 §3.2. Confidential clients authenticate with HTTP Basic (`client_secret_basic`) or `client_id` + `client_secret` in the body (`client_secret_post`), never both; public clients send `client_id` alone. Credentials in the query string are refused. The grant must be one the client is registered for (`unauthorized_client` otherwise). Access tokens are RFC 9068 JWTs. Browser clients get CORS for the origins they registered.",
        security: clientAuth,
        parameters: [parameter("DPoP")],
        requestBody: formBody(schema("TokenRequest")),
        responses: {
          200: { description: "Tokens.", headers: { ...noStore, "DPoP-Nonce": header("DPoPNonce") }, content: jsonContent(schema("TokenResponse")) },
          400: {
            description:
              "`invalid_request`, `invalid_grant` (code, refresh or subject token invalid, expired, used, revoked, or issued to another client; wrong `redirect_uri` or `code_verifier`; bad password), `invalid_scope`, `invalid_target` (a `resource` unknown, not allowed for the client, or beyond the grant's), `unauthorized_client`, `unsupported_grant_type`, `invalid_dpop_proof` (a DPoP proof that fails a check, is replayed, or is missing for a client registered with `dpop_bound_access_tokens`), `use_dpop_nonce` (with a `DPoP-Nonce` header).",
            headers: { ...noStore, "DPoP-Nonce": header("DPoPNonce") },
            content: jsonContent(schema("OAuthError"), {
              error: "invalid_grant",
              error_description: "the authorization code is invalid or has expired",
            }),
          },
          401: response("InvalidClient"),
          ...postErrors,
        },
      },
      options: preflight(OAUTH, "tokenPreflight"),
    },
  },
  {
    path: "/par/",
    operations: {
      post: {
        tags: OAUTH,
        operationId: "pushedAuthorizationRequest",
        summary: "Pushed authorization request endpoint (RFC 9126)",
        description:
          "RFC 9126 §2. The client authenticates as at the token endpoint and pushes its authorization request, checked exactly as the authorization endpoint checks it; errors are answered here as JSON, never redirected. The answer's `request_uri` goes to `authorize/?client_id=…&request_uri=…`, once, within `expires_in`. Rate-limited like the token endpoint. Browser clients get CORS for the origins they registered.",
        security: clientAuth,
        // RFC 9449 §10.1: a proof here binds the code to its key, as `dpop_jkt` does.
        parameters: [parameter("DPoP")],
        requestBody: formBody(schema("PushedAuthorizationRequest")),
        responses: {
          201: { description: "The request_uri.", headers: noStore, content: jsonContent(schema("PushedAuthorizationResponse")) },
          400: oauthError(
            "The authorization request's own errors: `invalid_request` (also an unknown or unregistered `redirect_uri`, or a `request_uri` pushed), `unauthorized_client`, `unsupported_response_type`, `invalid_scope`, `invalid_target`, `request_not_supported`.",
          ),
          401: response("InvalidClient"),
          ...postErrors,
        },
      },
      options: preflight(OAUTH, "parPreflight"),
    },
  },
  {
    path: "/device_authorization/",
    operations: {
      post: {
        tags: OAUTH,
        operationId: "deviceAuthorization",
        summary: "Device authorization endpoint (RFC 8628)",
        description:
          "RFC 8628 §3.1. A device without a browser asks for a device code and a user code; its user enters the user code on the verification page (`device/`), signed in, and approves or denies; the device meanwhile polls the token endpoint with `grant_type=urn:ietf:params:oauth:grant-type:device_code`. Client authentication as at the token endpoint; the client must be registered for the device_code grant (`unauthorized_client`). Scope and `resource` are checked as at the authorization endpoint. The state lives in D1 at the primary (docs/consistency.md). No CORS.",
        security: clientAuth,
        requestBody: formBody(schema("DeviceAuthorizationRequest")),
        responses: {
          200: { description: "The codes.", headers: noStore, content: jsonContent(schema("DeviceAuthorizationResponse")) },
          400: oauthError("`invalid_request`, `invalid_scope`, `invalid_target`, `unauthorized_client` (no device_code grant)."),
          401: response("InvalidClient"),
          429: response("TooManyRequests"),
          ...postErrors,
        },
      },
    },
  },
  {
    path: "/device/",
    operations: {
      get: {
        tags: PAGES,
        operationId: "deviceVerificationPage",
        summary: "Device verification page (RFC 8628 §3.3)",
        description:
          "The form where a signed-in user enters the code their device shows (prefilled from `verification_uri_complete`; the user still submits it). A visitor who is not signed in is sent to `login/` and back here, with the code.",
        security: session,
        parameters: [{ name: "user_code", in: "query", description: "The code, as `verification_uri_complete` carries it.", schema: text }],
        responses: { 200: response("HtmlPage"), 303: toLoginOr("The login page") },
      },
      post: {
        tags: PAGES,
        operationId: "deviceVerification",
        summary: "Enter a device's code, then approve or deny it",
        description:
          "Without `decision`: looks the code up (case and dash do not matter) and shows what the device asks for: the client's name and id, the scopes described as on the consent page, the resources, and the code to compare with the device's (RFC 8628 §5.4). With `decision=approve` or `deny`: decides it, once; an approval is recorded as consent (it shows on `authorized_tokens/`). Wrong codes are counted per user and address in the sign-in throttle table: after 5 (20 per user from everywhere) in `LOGIN_LOCKOUT_SECONDS`, no code is looked up (429).",
        security: session,
        requestBody: formBody(
          object(
            {
              csrfmiddlewaretoken: described("From the page's form."),
              user_code: described("The code the device shows."),
              decision: { type: "string", enum: ["approve", "deny"], description: "Absent: show the confirmation page." },
            },
            ["csrfmiddlewaretoken", "user_code"],
          ),
        ),
        responses: {
          200: { description: "The confirmation page, or the outcome of the decision.", content: htmlContent },
          303: toLoginOr("Not signed in"),
          400: { description: "Not a code, or no device waits for it (wrong, decided, or expired): the form again.", content: htmlContent },
          403: csrfRefused,
          413: response("ErrorPage"),
          429: { description: "Too many wrong codes, or requests from this address: nothing looked up.", content: htmlContent },
        },
      },
    },
  },
  {
    path: "/revoke_token/",
    operations: {
      post: {
        tags: OAUTH,
        operationId: "revoke",
        summary: "Token revocation (RFC 7009)",
        description:
          "Revokes an access token (a KV note by its `jti`; with `REVOKE_REFRESH_TOKEN_WITH_ACCESS_TOKEN`, its whole grant) or a refresh token (its whole family, and the access tokens of that grant). Client authentication as at the token endpoint. A client revokes only its own tokens; an unknown, expired or already revoked token is still a success. The token's shape decides where to look, whatever the hint says.",
        security: clientAuth,
        requestBody: formBody(schema("RevocationRequest")),
        responses: {
          200: { description: "Revoked, or nothing to revoke. Empty body.", headers: noStore },
          400: oauthError(
            "`invalid_request` (no `token`; a token issued to another client), `unsupported_token_type` (a hint other than `access_token` or `refresh_token`).",
          ),
          401: response("InvalidClient"),
          ...postErrors,
        },
      },
      options: preflight(OAUTH, "revokePreflight"),
    },
  },
  {
    path: "/introspect/",
    operations: {
      post: {
        tags: OAUTH,
        operationId: "introspect",
        summary: "Token introspection (RFC 7662)",
        description:
          'The caller is a confidential client (Basic or `client_secret_post`), or a resource server presenting its own access token with the `introspection` scope (Bearer). Public clients are refused. Anything not active (unknown, expired, revoked, another issuer\'s) is exactly `{"active": false}`. No CORS.',
        security: [{ clientSecretBasic: [] }, { bearer: ["introspection"] }, {}],
        requestBody: formBody(schema("IntrospectionRequest")),
        responses: {
          200: { description: "The token's state.", headers: noStore, content: jsonContent(schema("IntrospectionResponse")) },
          400: response("InvalidRequest"),
          401: oauthError(
            "`invalid_client` (client authentication failed, or a public client), or `invalid_token` (the Bearer caller's token is not valid; with a `WWW-Authenticate: Bearer` challenge).",
            { "WWW-Authenticate": header("WWWAuthenticate") },
          ),
          403: oauthError("`insufficient_scope`: the Bearer caller's token lacks the `introspection` scope.", {
            "WWW-Authenticate": header("WWWAuthenticate"),
          }),
          ...postErrors,
        },
      },
    },
  },
  {
    path: "/userinfo/",
    operations: {
      get: {
        tags: OIDC,
        operationId: "userinfo",
        summary: "UserInfo (OpenID Connect Core §5.3)",
        description:
          "The claims of the granted scopes (see docs/oidc.md), plus those the `claims` request parameter asked for in its `userinfo` member, each only when the user has it; `sub` as this client sees it (pairwise for pairwise clients). The access token must have the `openid` scope and belong to a user. Tokens in the query string are refused. Browser clients get CORS for the origins they registered.",
        security: [{ bearer: ["openid"] }, { dpop: ["openid"] }],
        parameters: [parameter("DPoP")],
        responses: { 200: response("UserInfo"), ...bearerErrors, 500: response("ServerError") },
      },
      post: {
        tags: OIDC,
        operationId: "userinfoPost",
        summary: "UserInfo, POST",
        description: "As GET; the access token may instead be sent as the `access_token` form field (RFC 6750 §2.2), but not both ways.",
        security: [{ bearer: ["openid"] }, { dpop: ["openid"] }, {}],
        parameters: [parameter("DPoP")],
        requestBody: formBody(object({ access_token: described("When no Authorization header is sent.") }), false),
        responses: { 200: response("UserInfo"), ...bearerErrors, 413: response("TooLarge"), 500: response("ServerError") },
      },
      options: preflight(OIDC, "userinfoPreflight"),
    },
  },
  {
    path: "/register/",
    operations: {
      post: {
        tags: REGISTRATION,
        operationId: "registerClient",
        summary: "Dynamic client registration (RFC 7591)",
        description:
          "A client registers itself with its metadata as JSON and gets its `client_id` (and `client_secret` when it is confidential), plus a `registration_access_token` and `registration_client_uri` to read, update or delete its registration (RFC 7592). `DYNAMIC_REGISTRATION=open`: anyone may register; `token`: an initial access token from the admin CLI is needed (`initial-token create`), and one of its uses is spent only once the metadata is valid. Rate-limited per address (`REGISTER_RATE_LIMIT`). Readable from any origin (CORS `*`), for browser-based clients.",
        security: [{ initialAccessToken: [] }, {}],
        requestBody: jsonBody(schema("ClientMetadata")),
        responses: {
          201: response("ClientInformation"),
          400: response("InvalidClientMetadata"),
          401: response("RegistrationTokenRequired"),
          404: response("RegistrationOff"),
          ...postErrors,
          429: response("TooManyRequests"),
        },
      },
      options: { ...preflight(REGISTRATION, "registerClientPreflight"), responses: { 204: response("AnyOriginPreflight") } },
    },
  },
  {
    path: "/register/{client_id}",
    operations: {
      get: {
        tags: REGISTRATION,
        operationId: "readClient",
        summary: "Read a registration (RFC 7592 §2.1)",
        description: "The client's current metadata. Only for clients that registered themselves, with their own registration access token.",
        security: [{ registrationAccessToken: [] }],
        parameters: [parameter("registered_client_id")],
        responses: { 200: response("ClientInformation"), 401: response("RegistrationTokenRequired"), 404: response("RegistrationOff") },
      },
      put: {
        tags: REGISTRATION,
        operationId: "updateClient",
        summary: "Replace a registration (RFC 7592 §2.2)",
        description:
          "The metadata is checked as at registration and replaces the old (omitted members are unset); the client's id, secret and registration access token stay. It applies at once in the isolate that answered, and everywhere within `CLIENT_CACHE_SECONDS`.",
        security: [{ registrationAccessToken: [] }],
        parameters: [parameter("registered_client_id")],
        requestBody: jsonBody(schema("ClientUpdate")),
        responses: {
          200: response("ClientInformation"),
          400: response("InvalidClientMetadata"),
          401: response("RegistrationTokenRequired"),
          404: response("RegistrationOff"),
          413: response("TooLarge"),
        },
      },
      delete: {
        tags: REGISTRATION,
        operationId: "deleteClient",
        summary: "Delete a registration (RFC 7592 §2.3)",
        description:
          "As the admin CLI's `client delete`: the client, its refresh tokens and its consents are gone, and its access tokens are refused from now on (within about 60 s everywhere: KV). The registration access token stops working with it.",
        security: [{ registrationAccessToken: [] }],
        parameters: [parameter("registered_client_id")],
        responses: { 204: { description: "Deleted. No body.", headers: noStore }, 401: response("RegistrationTokenRequired"), 404: response("RegistrationOff") },
      },
    },
  },
  {
    path: "/login/",
    operations: {
      get: {
        tags: PAGES,
        operationId: "loginPage",
        summary: "Sign-in form",
        description:
          "Sets the CSRF cookie; the form posts `username`, `password`, `csrfmiddlewaretoken` and `next` back here. The authorization endpoint sends users here with `next` set to the authorization request.",
        security: [],
        parameters: [
          {
            name: "next",
            in: "query",
            description: "Where to go after signing in; only this server's own `authorize/?...` URLs and account pages (`authorized_tokens/`, `applications/`) are followed.",
            schema: text,
          },
          parameter("login_hint"),
        ],
        responses: { 200: response("HtmlPage") },
      },
      post: {
        tags: PAGES,
        operationId: "login",
        summary: "Sign in",
        description:
          'Checks the CSRF token, the throttling (`LOGIN_MAX_FAILURES` per username within `LOGIN_LOCKOUT_SECONDS`) and the password, then sets the session cookie and redirects to `next` (or shows a "signed in" page). Failures show the form again with a message.',
        security: [],
        requestBody: formBody(
          object(
            {
              username: text,
              password: { type: "string", format: "password" },
              csrfmiddlewaretoken: described("From the form (DOT's field name)."),
              next: text,
            },
            ["username", "password", "csrfmiddlewaretoken"],
          ),
        ),
        responses: {
          200: response("HtmlPage"),
          303: {
            description: "Signed in: back to the authorization request in `next`.",
            headers: { Location: header("Location"), "Set-Cookie": header("SetCookie") },
          },
          400: response("HtmlPage"),
          401: response("HtmlPage"),
          403: response("HtmlPage"),
          429: response("HtmlPage"),
        },
      },
    },
  },
  {
    path: "/logout/",
    operations: {
      get: {
        tags: [...OIDC, ...PAGES],
        operationId: "endSession",
        summary: "RP-Initiated Logout 1.0 (end_session_endpoint)",
        description:
          "Checks the request and shows a confirmation page naming the client; a GET never signs anyone out. The client is named by `id_token_hint` (an ID token this server issued; an expired one is fine) or `client_id` (both must agree). `post_logout_redirect_uri` must be registered for that client, exactly; any failed check is an `invalid_request` error page, never a redirect.",
        security: session,
        parameters: [
          ...["id_token_hint", "client_id_optional", "post_logout_redirect_uri", "logout_state"].map(parameter),
          { name: "ui_locales", in: "query", description: "Accepted and ignored.", schema: text },
          { name: "logout_hint", in: "query", description: "Accepted and ignored.", schema: text },
        ],
        responses: { 200: response("HtmlPage"), 400: response("ErrorPage") },
      },
      post: {
        tags: [...OIDC, ...PAGES],
        operationId: "endSessionPost",
        summary: "Logout request by POST, or the confirmation",
        description:
          'Without `csrfmiddlewaretoken` or `logout`: a logout request POSTed by the client, answered as the GET (confirmation page). With them: the user\'s confirmation, which clears the session cookie (and, with `REVOKE_TOKENS_ON_LOGOUT`, revokes the user\'s refresh tokens of that client and their access tokens), then redirects to `post_logout_redirect_uri` with `state`, or shows a "signed out" page. The session\'s clients with a `backchannel_logout_uri` are POSTed a logout token after the response (Back-Channel Logout 1.0); when some have a `frontchannel_logout_uri`, a 200 page frames those first (with `iss` and `sid` when they asked) and then continues to `post_logout_redirect_uri` (Front-Channel Logout 1.0).',
        security: session,
        requestBody: formBody(schema("LogoutRequest")),
        responses: {
          200: response("HtmlPage"),
          303: {
            description: "Signed out: to the registered `post_logout_redirect_uri`, with `state` when the request had one.",
            headers: { Location: header("Location") },
          },
          400: response("ErrorPage"),
          403: { description: "The CSRF token did not match: the confirmation page again.", content: htmlContent },
          413: response("ErrorPage"),
        },
      },
    },
  },
  {
    path: "/check_session/",
    operations: {
      get: {
        tags: OIDC,
        operationId: "checkSessionIframe",
        summary: "Session Management 1.0 check_session_iframe",
        description:
          "A page without UI for clients to frame (any site may: `frame-ancestors *`). Its script answers a `postMessage` of `client_id + \" \" + session_state` with `unchanged`, `changed` or `error`, recomputing `session_state` from the sender's origin and the browser-state cookie. 404 when SESSION_MANAGEMENT is off.",
        security: [],
        responses: {
          200: { description: "The iframe's page.", headers: { "Cache-Control": header("PublicFiveMinutes") }, content: htmlContent },
          404: { description: "SESSION_MANAGEMENT is off." },
        },
      },
    },
  },
  {
    path: "/authorized_tokens/",
    operations: {
      get: {
        tags: PAGES,
        operationId: "authorizedTokensPage",
        summary: "The applications the signed-in user has authorized (DOT's authorized tokens)",
        description:
          "Each client the user approved or holds a live refresh token of, with its scopes (described as on the consent page), when it was authorized and when its tokens were last issued, and a Revoke button leading to the confirmation page. A visitor who is not signed in is sent to `login/` and back here.",
        security: session,
        parameters: [{ name: "revoked", in: "query", description: "Set after a revocation: the page says it happened.", schema: text }],
        responses: { 200: response("HtmlPage"), 303: { description: "Not signed in: to `login/?next=…`.", headers: { Location: header("Location") } } },
      },
    },
  },
  {
    path: "/authorized_tokens/{client_id}/delete/",
    operations: {
      get: {
        tags: PAGES,
        operationId: "revokeAuthorizationPage",
        summary: "Confirmation page of revoking an application",
        description: "Names the client and what it had; the form posts back here with the CSRF token. A GET never revokes anything.",
        security: session,
        parameters: [authorizedClientId],
        responses: {
          200: response("HtmlPage"),
          303: { description: "Not signed in: to `login/?next=…`.", headers: { Location: header("Location") } },
          404: { description: "The user has not authorized this client (or it does not exist).", content: htmlContent },
        },
      },
      post: {
        tags: PAGES,
        operationId: "revokeAuthorization",
        summary: "Revoke an application's access to the signed-in user",
        description:
          "Checks the CSRF token, then revokes the user's refresh tokens of the client (at once) and their access tokens (a user-and-client KV note, also for grants without a refresh token; within about 60 s everywhere), forgets the consent (the next authorization asks again), and redirects to the list.",
        security: session,
        parameters: [authorizedClientId],
        requestBody: formBody(object({ csrfmiddlewaretoken: described("From the confirmation page's form.") }, ["csrfmiddlewaretoken"])),
        responses: {
          303: { description: "Revoked: to `authorized_tokens/?revoked=1` (or, when not signed in, to `login/`).", headers: { Location: header("Location") } },
          400: response("ErrorPage"),
          403: { description: "The CSRF token did not match: the confirmation page again, nothing revoked.", content: htmlContent },
          404: { description: "The user has not authorized this client (or it does not exist).", content: htmlContent },
        },
      },
    },
  },
  {
    path: "/applications/",
    operations: { get: pageGet("applicationsPage", "The signed-in user's applications (DOT's application list)", "The applications the user registered on these pages, newest first, with a link to register one.") },
  },
  {
    path: "/applications/register/",
    operations: {
      get: pageGet("applicationRegisterPage", "The form to register an application", "Name, client type, grant types, redirect URIs, post-logout redirect URIs, allowed origins, scopes (and skip consent where APPLICATIONS_MAY_SKIP_CONSENT allows it)."),
      post: {
        tags: PAGES,
        operationId: "applicationRegister",
        summary: "Register an application",
        description:
          "Checks the CSRF token, then the fields with the admin CLI's registration schema. Valid: the application's page, with its client secret (confidential) shown this once; only its hash is stored. Invalid: the form again with the values and a message next to each field at fault.",
        security: session,
        requestBody: applicationForm,
        responses: { 200: response("HtmlPage"), 303: toLoginOr("Not signed in"), 400: { description: "Fields refused: the form again with the messages.", content: htmlContent }, 403: csrfRefused },
      },
    },
  },
  {
    path: "/applications/{client_id}/",
    operations: { get: pageGet("applicationPage", "One of the user's applications", "Its settings (never its secret), links to edit and delete it, and a form to rotate its secret.", [applicationId]) },
  },
  {
    path: "/applications/{client_id}/update/",
    operations: {
      get: pageGet("applicationUpdatePage", "The form to edit an application", "The register form, filled in.", [applicationId]),
      post: {
        tags: PAGES,
        operationId: "applicationUpdate",
        summary: "Edit an application",
        description: "As registering; valid changes apply at once in this isolate (in others within CLIENT_CACHE_SECONDS) and redirect to the application's page.",
        security: session,
        parameters: [applicationId],
        requestBody: applicationForm,
        responses: { 303: toLoginOr("Saved: to the application's page"), 400: { description: "Fields refused: the form again with the messages.", content: htmlContent }, 403: csrfRefused, 404: notOwned },
      },
    },
  },
  {
    path: "/applications/{client_id}/delete/",
    operations: {
      get: pageGet("applicationDeletePage", "Confirmation page of deleting an application", "A GET never deletes anything.", [applicationId]),
      post: {
        tags: PAGES,
        operationId: "applicationDelete",
        summary: "Delete an application",
        description: "As the admin CLI's `client delete`: its refresh tokens and consents go with it, its access tokens are refused from now on (KV note); redirects to the list.",
        security: session,
        parameters: [applicationId],
        requestBody: formBody(object({ csrfmiddlewaretoken: described("From the confirmation page's form.") }, ["csrfmiddlewaretoken"])),
        responses: { 303: toLoginOr("Deleted: to the list"), 400: response("HtmlPage"), 403: csrfRefused, 404: notOwned },
      },
    },
  },
  {
    path: "/applications/{client_id}/rotate-secret/",
    operations: {
      post: {
        tags: PAGES,
        operationId: "applicationRotateSecret",
        summary: "Give a confidential application a new secret",
        description: "The application's page with the new secret, shown this once; the old secret stops working (in other isolates within CLIENT_CACHE_SECONDS).",
        security: session,
        parameters: [applicationId],
        requestBody: formBody(object({ csrfmiddlewaretoken: described("From the application page's form.") }, ["csrfmiddlewaretoken"])),
        responses: { 200: response("HtmlPage"), 303: toLoginOr("Not signed in"), 400: { description: "A public application has no secret.", content: htmlContent }, 403: csrfRefused, 404: notOwned },
      },
    },
  },
  { path: "/admin/", operations: { get: consoleGet("consoleHome", "Operator console: counts and the latest events") } },
  { path: "/admin/events/", operations: { get: { ...consoleGet("consoleEvents", "Recent events, newest first"), parameters: [{ name: "type", in: "query" as const, required: false, description: "Only events of this type (an unknown type shows all).", schema: { type: "string" as const } }] } } },
  { path: "/admin/keys/", operations: { get: consoleGet("consoleKeys", "The signing keys and how to rotate them") } },
  {
    path: "/admin/keys/add/",
    operations: {
      post: consolePost("consoleKeyAdd", "Add a signing key to D1 (`db-keys add`)", "DATABASE_SIGNING_KEYS only (else 404): a new key of `alg`, published at once, signing once promoted.", { alg: "ES256, RS256, Ed25519, EdDSA, PS256 or ES384." }, [], {
        ...redirectsTo("the keys page"),
        400: { description: "Not one of the algorithms: nothing changed.", content: htmlContent },
      }),
    },
  },
  ...(["promote", "retire"] as const).map((action) => ({
    path: `/admin/keys/{kid}/${action}/`,
    operations: {
      post: consolePost(
        action === "promote" ? "consoleKeyPromote" : "consoleKeyRetire",
        action === "promote" ? "Make a database key sign (`db-keys promote`)" : "Retire a database key (`db-keys retire`)",
        action === "promote"
          ? "DATABASE_SIGNING_KEYS only: the key signs its algorithm from max(now, added + 420 s), when every isolate and JWKS cache holds it."
          : "DATABASE_SIGNING_KEYS only: the key leaves the JWKS; refused while it signs and until the longest token lifetime after its last token.",
        {},
        [{ ...authorizedClientId, name: "kid", description: "The key's id (RFC 7638 thumbprint)." }],
        { ...redirectsTo("the keys page"), 409: { description: "Refused (a secret key, retired, signing, or too soon): the page says why; nothing changed.", content: htmlContent } },
      ),
    },
  })),
  { path: "/admin/clients/", operations: { get: consoleGet("consoleClients", "Every client, with its source") } },
  {
    path: "/admin/clients/new/",
    operations: {
      get: consoleGet("consoleClientForm", "The form to register a client"),
      post: consolePost(
        "consoleClientCreate",
        "Register a client (`client create`)",
        "The application pages' fields, plus every grant type, `resources` (one per line) and `token_endpoint_auth_method`; 201 with the client's page and its secret, shown this once.",
        { name: "The client's name.", client_type: "`confidential` or `public`.", resources: "RFC 8707 resources, one per line.", token_endpoint_auth_method: "Empty for the default." },
        [],
        { 201: response("HtmlPage") },
      ),
    },
  },
  { path: "/admin/clients/{client_id}/", operations: { get: consoleGet("consoleClient", "One client", [authorizedClientId]) } },
  {
    path: "/admin/clients/{client_id}/rotate-secret/",
    operations: { post: consolePost("consoleClientRotateSecret", "A new secret (`client rotate-secret`)", "The client's page with the new secret, shown this once.", { grace_seconds: "How long the current secret stays valid: 0 to 2592000." }, [authorizedClientId], { 200: response("HtmlPage") }) },
  },
  {
    path: "/admin/clients/{client_id}/revoke-tokens/",
    operations: { post: consolePost("consoleClientRevokeTokens", "Revoke every token of the client (`client revoke-tokens`)", "Refresh tokens at once, access tokens issued until now through KV.", {}, [authorizedClientId], redirectsTo("the client's page")) },
  },
  {
    path: "/admin/clients/{client_id}/delete/",
    operations: {
      get: consoleGet("consoleClientDeletePage", "Confirmation page of deleting a client", [authorizedClientId]),
      post: consolePost("consoleClientDelete", "Delete a client (`client delete`)", "Its refresh tokens and consents go with it; its access tokens are refused.", {}, [authorizedClientId], redirectsTo("the client list")),
    },
  },
  { path: "/admin/users/", operations: { get: consoleGet("consoleUsers", "The users (built-in users table)") } },
  {
    path: "/admin/users/new/",
    operations: {
      get: consoleGet("consoleUserForm", "The form to create a user"),
      post: consolePost("consoleUserCreate", "Create a user (`user create`)", "Checked by the CLI's schema; messages next to the fields.", { username: "Letters, digits and @ . + - _.", password: "At least 8 characters.", email: "Optional.", operator: "`on`: may use the console." }, [], redirectsTo("the user's page")),
    },
  },
  { path: "/admin/users/{user_id}/", operations: { get: consoleGet("consoleUser", "One user: what they authorized, their events, actions", [consoleUserId]) } },
  {
    path: "/admin/users/{user_id}/disable/",
    operations: { post: consolePost("consoleUserDisable", "Disable a user (`user disable`)", "Ends their sessions and revokes their tokens; not one's own account.", {}, [consoleUserId], redirectsTo("the user's page")) },
  },
  { path: "/admin/users/{user_id}/enable/", operations: { post: consolePost("consoleUserEnable", "Enable a user (`user enable`)", "They may sign in again.", {}, [consoleUserId], redirectsTo("the user's page")) } },
  {
    path: "/admin/users/{user_id}/password/",
    operations: { post: consolePost("consoleUserPassword", "Set a user's password (`user set-password`)", "Ends their sessions and revokes their tokens; not one's own account.", { password: "At least 8 characters." }, [consoleUserId], redirectsTo("the user's page")) },
  },
  {
    path: "/admin/users/{user_id}/signout/",
    operations: { post: consolePost("consoleUserSignOut", "Sign a user out everywhere (`user signout`)", "Ends every session; with `revoke_tokens` also revokes their tokens.", { revoke_tokens: "`on` to revoke their tokens too." }, [consoleUserId], redirectsTo("the user's page")) },
  },
  {
    path: "/.well-known/openid-configuration",
    operations: { get: metadata("openidConfiguration", "OpenID Connect Discovery 1.0") },
  },
  {
    path: "/.well-known/oauth-authorization-server",
    operations: {
      get: metadata(
        "authorizationServerMetadataUnderIssuer",
        "Authorization server metadata, under the issuer",
        "The RFC 8414 document also under the issuer's path, where DOT and some clients look.",
      ),
    },
  },
  {
    path: "/.well-known/oauth-authorization-server",
    atOrigin: true,
    operations: {
      get: metadata(
        "authorizationServerMetadata",
        "Authorization server metadata (RFC 8414 §3.1)",
        "For an issuer with a path, RFC 8414 puts the metadata at the origin, with the issuer's path after `/.well-known/oauth-authorization-server`. Same content as the OpenID Connect discovery document.",
      ),
    },
  },
  {
    path: "/.well-known/openid-configuration",
    atOrigin: true,
    operations: {
      get: metadata(
        "openidConfigurationPathSuffixed",
        "Discovery, RFC 8414-style location",
        "The same document at the path-suffixed location some clients try.",
      ),
    },
  },
  {
    path: "/.well-known/jwks.json",
    operations: {
      get: {
        tags: METADATA,
        operationId: "jwks",
        summary: "Public signing keys (RFC 7517)",
        description: "The public half of every key in `SIGNING_KEYS`, signing or not (see docs/keys.md). Readable from any origin.",
        security: [],
        responses: {
          200: {
            description: "The JWK set.",
            headers: publicAnyOrigin(described("`public, max-age=300, stale-while-revalidate=60`.")),
            content: { "application/jwk-set+json": { schema: schema("JWKS") } },
          },
          500: response("ServerError"),
        },
      },
    },
  },
  {
    path: "/openapi.json",
    operations: {
      get: {
        tags: METADATA,
        operationId: "openapi",
        summary: "This document",
        description: "Built from the provider's endpoint table for the server URL it is served under.",
        security: [],
        responses: {
          200: {
            description: "The OpenAPI 3.1 description of the endpoints.",
            headers: publicAnyOrigin(header("PublicFiveMinutes")),
            content: jsonContent({ type: "object" }),
          },
        },
      },
    },
  },
  {
    path: "/openapi",
    operations: {
      get: {
        tags: METADATA,
        operationId: "openapiReference",
        summary: "This document as a page",
        description: "Every endpoint with its methods, parameters, request fields and responses, as HTML without scripts.",
        security: [],
        responses: { 200: response("HtmlPage") },
      },
    },
  },
];
