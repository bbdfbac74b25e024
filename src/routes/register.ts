import type { Context } from "hono";
import { hashSecret, randomToken, secretMatchesHash } from "../core/crypto";
import type { Settings } from "../core/settings";
import { findClient, forgetCachedClient } from "../db/clients";
import { findUsableInitialAccessToken, spendInitialAccessToken } from "../db/initial-access-tokens";
import { registerClient, replaceClientRegistration, type ClientRegistration } from "../db/registration";
import type { Client } from "../db/schema";
import { bearerError, bearerToken, tokenRequired, usesBearerScheme } from "../oauth/bearer";
import { metadataOfClient, registrationFromMetadata } from "../oauth/client-metadata";
import { invalidClientMetadata, invalidRequest, OAuthError } from "../oauth/errors";
import { readJsonBody } from "../oauth/json-body";
import { deleteClientAndTokens } from "../tokens/revocation";
import { clientSecretSealer } from "../tokens/client-secret";
import type { ProviderEnv } from "../types";

type Ctx = Context<ProviderEnv>;

const REALM = "registration";
const NO_STORE = { "Cache-Control": "no-store", Pragma: "no-cache" };

/** RFC 7592 §2.2: fields only the server sets, which an update request must not carry. */
const SERVER_FIELDS = ["registration_access_token", "registration_client_uri", "client_secret_expires_at", "client_id_issued_at"];

/** With DYNAMIC_REGISTRATION=off neither endpoint exists (and discovery names none). */
function requireRegistrationOn(settings: Settings): void {
  if (settings.DYNAMIC_REGISTRATION === "off") {
    throw new OAuthError("invalid_request", "dynamic client registration is not enabled on this server", 404);
  }
}

const invalidToken = (description: string) => bearerError(REALM, 401, "invalid_token", description);

/** The Bearer token of the request (RFC 6750 §2.1 only: never a body or query parameter). */
function presentedBearer(c: Ctx): string {
  const header = c.req.header("authorization");
  if (!usesBearerScheme(header)) throw tokenRequired(REALM);
  const token = bearerToken(header);
  if (!token) throw bearerError(REALM, 400, "invalid_request", "the Authorization header is not a valid Bearer token");
  return token;
}

/** DYNAMIC_REGISTRATION=token: the hash of a usable initial access token (RFC 7591 §3), checked before the metadata. */
async function initialAccessTokenHash(c: Ctx): Promise<string> {
  const tokenHash = await hashSecret(presentedBearer(c));
  if (!(await findUsableInitialAccessToken(c.get("db"), tokenHash))) {
    throw invalidToken("the initial access token is unknown, expired or used up");
  }
  return tokenHash;
}

/**
 * RFC 7591 §3.2.1 and RFC 7592 §3: the client's metadata, where to manage it and the token to do
 * so. The secret is known only when it was just made (it is stored hashed), so only registration
 * answers with it.
 */
function clientInformation(c: Ctx, client: Client, registrationAccessToken: string, clientSecret?: string | null) {
  return {
    ...metadataOfClient(client),
    ...(clientSecret ? { client_secret: clientSecret } : {}),
    ...(client.clientType === "confidential" ? { client_secret_expires_at: 0 } : {}),
    registration_access_token: registrationAccessToken,
    registration_client_uri: `${c.get("endpointBase")}/register/${encodeURIComponent(client.id)}`,
  };
}

/**
 * `POST {basePath}/register/` (RFC 7591 §3): a client registers itself with JSON metadata,
 * checked by `registrationFromMetadata`. With DYNAMIC_REGISTRATION=token the caller needs an
 * initial access token, and a use of it is spent only once the metadata is valid.
 */
export async function registerEndpoint(c: Ctx): Promise<Response> {
  const settings = c.get("settings");
  const db = c.get("db");
  requireRegistrationOn(settings);
  const initialToken = settings.DYNAMIC_REGISTRATION === "token" ? await initialAccessTokenHash(c) : undefined;
  const metadata = await readJsonBody(c.req.raw, settings.MAX_BODY_BYTES);
  const registration = registrationFromMetadata(metadata, { settings, source: "registration" });
  checkSelfRegistrationLimits(registration, settings);
  if (initialToken !== undefined && !(await spendInitialAccessToken(db, initialToken))) {
    throw invalidToken("the initial access token is unknown, expired or used up");
  }
  const registrationAccessToken = randomToken(32);
  const { client, clientSecret } = await registerClient(db, registration, {
    registrationAccessTokenHash: await hashSecret(registrationAccessToken),
    ...(registration.tokenEndpointAuthMethod === "client_secret_jwt" ? { sealSecret: clientSecretSealer(c.var.secret()) } : {}),
  });
  c.get("emit")({ type: "client.registered", clientId: client.id, source: "registration" });
  return c.json(clientInformation(c, client, registrationAccessToken, clientSecret), 201, NO_STORE);
}

/** Hashed for an unknown client too, so that the answer takes as long whether the client exists or not. */
const NO_HASH = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/**
 * RFC 7592 §2: the registration access token of the client in the path, read from the primary (a
 * deleted client stops at once). Any failure is the same 401: a wrong token, another client's, a
 * client that did not register itself, or none at all, so the answer never says which ids exist.
 */
async function authenticateRegistration(c: Ctx): Promise<{ client: Client; token: string }> {
  const token = presentedBearer(c);
  const client = await findClient(c.get("db"), c.req.param("clientId") ?? "");
  const hash = client?.source === "registration" ? client.registrationAccessTokenHash : null;
  const matches = await secretMatchesHash(token, hash ?? NO_HASH);
  if (!client || hash === null || !matches) throw invalidToken("the registration access token is not valid for this client");
  return { client, token };
}

/** RFC 7592 §2.2: the update names this client, carries no server-set field, and its secret (if any) is the client's. */
async function checkUpdateRequest(body: unknown, client: Client): Promise<void> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw invalidClientMetadata("the client metadata must be a JSON object");
  }
  const fields = body as Record<string, unknown>;
  if (fields.client_id !== client.id) throw invalidRequest("client_id must be present and equal to the client's id");
  const serverField = SERVER_FIELDS.find((name) => name in fields);
  if (serverField) throw invalidRequest(`the request must not include ${serverField} (RFC 7592 section 2.2)`);
  const secret = fields.client_secret;
  if (secret !== undefined) {
    const matches = typeof secret === "string" && client.secretHash !== null && (await secretMatchesHash(secret, client.secretHash));
    if (!matches) throw invalidRequest("client_secret does not match the client's secret; a client cannot choose its secret");
  }
}

/**
 * A secret is issued only at registration, so an update may not turn a public client into a
 * confidential one (it would have no secret) nor back (its secret would linger unused).
 */
function checkSameClientType(client: Client, registration: ClientRegistration): void {
  if (registration.clientType !== client.clientType) {
    throw invalidClientMetadata("token_endpoint_auth_method cannot change between none and a client secret method");
  }
}

/**
 * What no one may give themselves when registration is open to anyone: tokens without a user
 * (`client_credentials`: no user consents to them, so any registrant could call the APIs), and
 * the `introspection` scope in any mode (it reads every token's details). An initial access token
 * (DYNAMIC_REGISTRATION=token) vouches for its holder as an operator would, and allows the former.
 */
function checkSelfRegistrationLimits(registration: ClientRegistration, settings: Settings): void {
  if (settings.DYNAMIC_REGISTRATION === "open" && registration.grantTypes.includes("client_credentials")) {
    throw invalidClientMetadata("client_credentials needs an initial access token: registration on this server is open to anyone");
  }
  if ((registration.scope ?? "").split(" ").includes("introspection")) {
    throw invalidClientMetadata("the introspection scope is given by an operator only");
  }
}

async function readClient(c: Ctx, client: Client, token: string): Promise<Response> {
  return c.json(clientInformation(c, client, token), 200, NO_STORE);
}

async function updateClient(c: Ctx, client: Client, token: string): Promise<Response> {
  const settings = c.get("settings");
  const body = await readJsonBody(c.req.raw, settings.MAX_BODY_BYTES);
  await checkUpdateRequest(body, client);
  const registration = registrationFromMetadata(body, { settings, source: "registration" });
  checkSelfRegistrationLimits(registration, settings);
  checkSameClientType(client, registration);
  // RFC 7592 §2.2: a method that needs a secret the client lacks (client_secret_jwt's sealed one) gets a new one, in the answer.
  const updated = await replaceClientRegistration(c.get("db"), client, registration, { sealSecret: clientSecretSealer(c.var.secret()) });
  if (!updated) throw invalidToken("the registration access token is not valid for this client");
  // The new metadata applies at once here; other isolates reload within CLIENT_CACHE_SECONDS.
  forgetCachedClient(client.id);
  c.get("emit")({ type: "client.updated", clientId: client.id, source: "registration" });
  return c.json(clientInformation(c, updated.client, token, updated.clientSecret), 200, NO_STORE);
}

/** As the admin CLI's `client delete`: its refresh tokens go with the row, its access tokens are refused from now on. */
async function deleteRegisteredClient(c: Ctx, client: Client): Promise<Response> {
  if (!(await deleteClientAndTokens({ db: c.get("db"), kv: c.get("kv") }, client.id, c.get("settings")))) {
    throw invalidToken("the registration access token is not valid for this client");
  }
  c.get("emit")({ type: "client.deleted", clientId: client.id, source: "registration" });
  return c.body(null, 204, NO_STORE);
}

/** `GET`, `PUT`, `DELETE {basePath}/register/{client_id}` (RFC 7592): the client configuration endpoint. */
export async function clientConfigurationEndpoint(c: Ctx): Promise<Response> {
  requireRegistrationOn(c.get("settings"));
  const { client, token } = await authenticateRegistration(c);
  if (c.req.method === "PUT") return updateClient(c, client, token);
  if (c.req.method === "DELETE") return deleteRegisteredClient(c, client);
  return readClient(c, client, token);
}
