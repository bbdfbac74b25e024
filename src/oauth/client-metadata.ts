import { DEVICE_CODE_GRANT, LOOPBACK_HOSTNAMES, SIGNING_ALGORITHMS } from "../core/protocol";
import type { Settings } from "../core/settings";
import { clientRegistrationSchema, type ClientRegistration } from "../db/registration";
import { APPLICATION_TYPES, SUBJECT_TYPES, type Client } from "../db/schema";
import { ASSERTION_HMAC_ALGORITHMS, ASSERTION_SIGNING_ALGORITHMS } from "./client-assertion";
import { invalidClientMetadata, invalidRedirectUri, invalidSoftwareStatement } from "./errors";
import { OIDC_SCOPES } from "./scope";

/**
 * Client metadata as clients send it (RFC 7591 §2, OIDC Dynamic Client Registration §2), for
 * dynamic registration and client ID metadata documents: checked as strictly as the admin CLI
 * checks its flags (the same schema decides), and stricter where a client registers itself:
 * OAuth 2.1's grants and the device grant (RFC 8628) only (no password, no implicit), redirect URIs
 * on https or loopback http.
 * Members this server does not know are ignored (RFC 7591 §2).
 */

/** Token endpoint authentication methods a self-registered client may pick. */
const AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "client_secret_jwt", "none"] as const;
const GRANTS = ["authorization_code", "refresh_token", "client_credentials", DEVICE_CODE_GRANT] as const;
/** Members shown back as registered and otherwise unused (RFC 7591 §2). */
const DISPLAY_URIS = ["client_uri", "logo_uri", "tos_uri", "policy_uri"] as const;
const DISPLAY_STRINGS = ["software_id", "software_version"] as const;
/** Each client row is read on every authorization: no list of URIs grows without bound. */
const MAX_URIS = 20;
/** OIDC Back- and Front-Channel Logout 1.0's boolean members. */
const LOGOUT_FLAGS = ["backchannel_logout_session_required", "frontchannel_logout_session_required"] as const;
/** The metadata member named in an error about a registration field. */
const MEMBER_OF_FIELD: Record<string, string> = {
  jwksUri: "jwks_uri",
  backchannelLogoutUri: "backchannel_logout_uri",
  frontchannelLogoutUri: "frontchannel_logout_uri",
};

export interface MetadataOptions {
  settings: Pick<Settings, "SCOPES">;
  /** Where the metadata comes from; a document's client is always public (it has no secret to send). */
  source: "registration" | "metadata_document";
}

type Json = Record<string, unknown>;

function stringList(body: Json, name: string): string[] | undefined {
  const value = body[name];
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
    throw invalidClientMetadata(`${name} must be an array of strings`);
  }
  return value as string[];
}

function optionalString(body: Json, name: string): string | undefined {
  const value = body[name];
  if (value === undefined) return undefined;
  if (typeof value !== "string") throw invalidClientMetadata(`${name} must be a string`);
  return value;
}

function oneOf<T extends string>(body: Json, name: string, allowed: readonly T[]): T | undefined {
  const value = optionalString(body, name);
  if (value !== undefined && !allowed.includes(value as T)) {
    throw invalidClientMetadata(`${name} must be one of ${allowed.join(", ")}`);
  }
  return value as T | undefined;
}

/** RFC 7591 §2 and RFC 9700 §2.1: absolute, no fragment, https or loopback http. */
function checkRedirectUris(uris: string[]): void {
  if (uris.length > MAX_URIS) throw invalidRedirectUri(`at most ${MAX_URIS} redirect URIs`);
  for (const uri of uris) {
    if (!URL.canParse(uri) || uri.includes("#")) throw invalidRedirectUri("redirect URIs must be absolute URIs without a fragment");
    const url = new URL(uri);
    const loopbackHttp = url.protocol === "http:" && LOOPBACK_HOSTNAMES.has(url.hostname);
    if (url.protocol !== "https:" && !loopbackHttp) {
      throw invalidRedirectUri("redirect URIs must use https, or http on a loopback address");
    }
    if (url.username || url.password) throw invalidRedirectUri("redirect URIs must not carry credentials");
  }
}

function checkDisplayUri(name: string, value: string): void {
  if (!URL.canParse(value) || !/^https?:$/.test(new URL(value).protocol)) {
    throw invalidClientMetadata(`${name} must be an http or https URL`);
  }
}

/**
 * A public client that registers itself may be a browser app (an SPA, an MCP inspector): it may
 * call the token endpoint from the origins of its redirect URIs, where the browser returns to it.
 * It has no secret a browser could leak, so CORS gives such an origin nothing more than a code
 * and its PKCE verifier already do.
 */
function originsOf(redirectUris: string[]): string[] {
  return [...new Set(redirectUris.map((uri) => new URL(uri).origin))];
}

/** The registration (as the admin CLI would give it) that client metadata asks for. */
export function registrationFromMetadata(input: unknown, options: MetadataOptions): ClientRegistration {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw invalidClientMetadata("the client metadata must be a JSON object");
  }
  const body = input as Json;
  if (body.software_statement !== undefined) {
    throw invalidSoftwareStatement("software statements are not accepted by this server");
  }

  const redirectUris = stringList(body, "redirect_uris") ?? [];
  checkRedirectUris(redirectUris);
  const postLogoutRedirectUris = stringList(body, "post_logout_redirect_uris") ?? [];
  checkRedirectUris(postLogoutRedirectUris);

  const method = oneOf(body, "token_endpoint_auth_method", AUTH_METHODS) ?? (options.source === "metadata_document" ? "none" : "client_secret_basic");
  if (options.source === "metadata_document" && method !== "none") {
    throw invalidClientMetadata("a client ID metadata document's client has no secret: token_endpoint_auth_method must be none");
  }
  const grantTypes = stringList(body, "grant_types") ?? ["authorization_code"];
  for (const grant of grantTypes) {
    if (!(GRANTS as readonly string[]).includes(grant)) {
      throw invalidClientMetadata(`grant_types may contain ${GRANTS.join(", ")} only`);
    }
  }
  const responseTypes = stringList(body, "response_types") ?? (grantTypes.includes("authorization_code") ? ["code"] : []);
  if (responseTypes.some((type) => type !== "code")) throw invalidClientMetadata("response_types may contain code only");
  if (responseTypes.includes("code") !== grantTypes.includes("authorization_code")) {
    throw invalidClientMetadata("response_types code and grant_types authorization_code go together (RFC 7591 section 2.1)");
  }
  if (grantTypes.includes("authorization_code") && redirectUris.length === 0) {
    throw invalidRedirectUri("authorization_code needs at least one redirect URI");
  }
  if (method === "none" && grantTypes.includes("client_credentials")) {
    throw invalidClientMetadata("client_credentials needs a client secret: token_endpoint_auth_method must not be none");
  }

  // RFC 7523 / OIDC Core §9: the keys of a private_key_jwt client, and the one algorithm it signs with.
  const jwks = body.jwks;
  if (jwks !== undefined && (typeof jwks !== "object" || jwks === null || Array.isArray(jwks))) throw invalidClientMetadata("jwks must be a JWK set");
  const jwksUri = optionalString(body, "jwks_uri");
  if (jwks !== undefined && jwksUri !== undefined) throw invalidClientMetadata("jwks and jwks_uri must not both be given");
  const assertionAlgorithms: readonly string[] = method === "client_secret_jwt" ? ASSERTION_HMAC_ALGORITHMS : method === "private_key_jwt" ? ASSERTION_SIGNING_ALGORITHMS : [];
  const signingAlg = optionalString(body, "token_endpoint_auth_signing_alg");
  if (signingAlg !== undefined && !assertionAlgorithms.includes(signingAlg)) {
    throw invalidClientMetadata(
      assertionAlgorithms.length > 0
        ? `token_endpoint_auth_signing_alg must be one of ${assertionAlgorithms.join(", ")} for ${method}`
        : "token_endpoint_auth_signing_alg is only for private_key_jwt and client_secret_jwt",
    );
  }
  const requirePar = body.require_pushed_authorization_requests;
  if (requirePar !== undefined && typeof requirePar !== "boolean") throw invalidClientMetadata("require_pushed_authorization_requests must be a boolean");
  const dpopBound = body.dpop_bound_access_tokens;
  if (dpopBound !== undefined && typeof dpopBound !== "boolean") throw invalidClientMetadata("dpop_bound_access_tokens must be a boolean");
  const logoutFlags = Object.fromEntries(
    LOGOUT_FLAGS.map((name) => {
      const value = body[name];
      if (value !== undefined && typeof value !== "boolean") throw invalidClientMetadata(`${name} must be a boolean`);
      return [name, value === true];
    }),
  );

  const scope = optionalString(body, "scope");
  if (scope !== undefined) {
    const known = new Set([...Object.keys(OIDC_SCOPES), ...Object.keys(options.settings.SCOPES)]);
    const unknown = scope.split(" ").filter((s) => s !== "" && !known.has(s));
    if (unknown.length > 0) throw invalidClientMetadata("scope names a scope this server does not have");
  }

  const metadata: Json = {};
  for (const name of DISPLAY_URIS) {
    const value = optionalString(body, name);
    if (value !== undefined) {
      checkDisplayUri(name, value);
      metadata[name] = value;
    }
  }
  for (const name of DISPLAY_STRINGS) {
    const value = optionalString(body, name);
    if (value !== undefined) metadata[name] = value.slice(0, 200);
  }
  const contacts = stringList(body, "contacts");
  if (contacts) metadata.contacts = contacts.slice(0, 10);
  if (signingAlg !== undefined) metadata.token_endpoint_auth_signing_alg = signingAlg;

  const name = optionalString(body, "client_name")?.trim();
  const isPublic = method === "none";
  const registration: ClientRegistration = {
    name: (name || "Unnamed client").slice(0, 200),
    clientType: isPublic ? "public" : "confidential",
    applicationType: oneOf(body, "application_type", APPLICATION_TYPES),
    grantTypes: [...new Set(grantTypes)] as ClientRegistration["grantTypes"],
    redirectUris,
    postLogoutRedirectUris,
    allowedOrigins: isPublic ? originsOf(redirectUris) : [],
    scope: scope?.split(" ").filter(Boolean).join(" ") ?? "",
    tokenEndpointAuthMethod: method,
    idTokenSignedResponseAlg: oneOf(body, "id_token_signed_response_alg", SIGNING_ALGORITHMS),
    subjectType: oneOf(body, "subject_type", SUBJECT_TYPES),
    source: options.source,
    metadata: Object.keys(metadata).length > 0 ? metadata : null,
    jwks: jwks as ClientRegistration["jwks"],
    jwksUri,
    requirePushedAuthorizationRequests: requirePar === true,
    dpopBoundAccessTokens: dpopBound === true,
    backchannelLogoutUri: optionalString(body, "backchannel_logout_uri"),
    backchannelLogoutSessionRequired: logoutFlags.backchannel_logout_session_required,
    frontchannelLogoutUri: optionalString(body, "frontchannel_logout_uri"),
    frontchannelLogoutSessionRequired: logoutFlags.frontchannel_logout_session_required,
  };
  // The rules the admin CLI applies (pairwise hosts, redirect URIs and grants, …) decide the rest.
  const checked = clientRegistrationSchema.safeParse(registration);
  if (!checked.success) {
    const issue = checked.error.issues[0]!;
    const where = issue.path.join(".");
    if (where.startsWith("redirectUris") || where.startsWith("postLogoutRedirectUris")) throw invalidRedirectUri(issue.message);
    const member = MEMBER_OF_FIELD[where.split(".")[0]!] ?? where;
    throw invalidClientMetadata(`${member ? `${member}: ` : ""}${issue.message}`);
  }
  return registration;
}

/** The client's metadata as RFC 7591 §3.2.1 and RFC 7592 §3 show it (no secret, no tokens). */
export function metadataOfClient(client: Client): Json {
  return {
    client_id: client.id,
    client_id_issued_at: client.createdAt,
    client_name: client.name,
    redirect_uris: client.redirectUris,
    grant_types: client.grantTypes,
    response_types: client.grantTypes.includes("authorization_code") ? ["code"] : [],
    token_endpoint_auth_method: client.tokenEndpointAuthMethod,
    application_type: client.applicationType,
    ...(client.scope ? { scope: client.scope } : {}),
    ...(client.postLogoutRedirectUris.length > 0 ? { post_logout_redirect_uris: client.postLogoutRedirectUris } : {}),
    id_token_signed_response_alg: client.idTokenSignedResponseAlg,
    subject_type: client.subjectType,
    ...(client.jwks ? { jwks: client.jwks } : {}),
    ...(client.jwksUri ? { jwks_uri: client.jwksUri } : {}),
    ...(client.requirePushedAuthorizationRequests ? { require_pushed_authorization_requests: true } : {}),
    ...(client.dpopBoundAccessTokens ? { dpop_bound_access_tokens: true } : {}),
    ...(client.backchannelLogoutUri
      ? { backchannel_logout_uri: client.backchannelLogoutUri, backchannel_logout_session_required: client.backchannelLogoutSessionRequired }
      : {}),
    ...(client.frontchannelLogoutUri
      ? { frontchannel_logout_uri: client.frontchannelLogoutUri, frontchannel_logout_session_required: client.frontchannelLogoutSessionRequired }
      : {}),
    ...client.metadata,
  };
}
