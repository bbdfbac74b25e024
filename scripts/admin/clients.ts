/** The "client ..." commands: register, list, show, delete clients; revoke their tokens; rotate secrets. */
import { dropPreviousClientSecret, findClient, listClients } from "../../src/db/clients";
import { clientRegistrationSchema, MAX_SECRET_GRACE_SECONDS, parseSecretGrace, registerClient, rotateClientSecret, type ClientRegistration } from "../../src/db/registration";
import { findUserByUsername } from "../../src/db/users";
import type { Client } from "../../src/db/schema";
import { clientSecretSealer, rotationSealer } from "../../src/tokens/client-secret";
import { deleteClientAndTokens } from "../../src/tokens/revocation";
import { revokeClientTokens } from "../../src/tokens/operator-actions";
import { CliError, list, requireOptions, str, UsageError, validationError, type Command, type Context, type OptionValues } from "./context";
import { secretKey } from "./dev-vars";
import { accessTokenWindowNote, fields, isoTime, tableOr } from "./output";

const CLIENT_FLAGS: Record<string, string> = {
  name: "--name",
  clientType: "--type",
  applicationType: "--application-type",
  grantTypes: "--grant-types",
  redirectUris: "--redirect-uris",
  postLogoutRedirectUris: "--post-logout-redirect-uris",
  allowedOrigins: "--allowed-origins",
  resources: "--resources",
  scope: "--scope",
  skipAuthorization: "--skip-consent",
  tokenEndpointAuthMethod: "--auth-method",
  idTokenSignedResponseAlg: "--id-token-alg",
  subjectType: "--subject-type",
  jwks: "--jwks",
  jwksUri: "--jwks-uri",
  requirePushedAuthorizationRequests: "--require-par",
  dpopBoundAccessTokens: "--dpop-bound",
  backchannelLogoutUri: "--backchannel-logout-uri",
  backchannelLogoutSessionRequired: "--backchannel-logout-session-required",
  frontchannelLogoutUri: "--frontchannel-logout-uri",
  frontchannelLogoutSessionRequired: "--frontchannel-logout-session-required",
};

/** --jwks JSON: a JWK set (its shape is the schema's to check). */
function jwksOption(value: OptionValues[string]): unknown {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(str(value) ?? "") as unknown;
  } catch {
    throw new UsageError('invalid --jwks: a JWK set as JSON, such as {"keys":[{"kty":"EC",...}]}');
  }
}

/** When the previous secret stops being accepted, if a rotation's grace is still running. */
function graceEnd(client: Client): number | undefined {
  const end = client.previousSecretExpiresAt;
  return client.previousSecretHash !== null && end !== null && end > Date.now() / 1000 ? end : undefined;
}

/** --grace-seconds: whole seconds, 0 to 30 days; default CLIENT_CACHE_SECONDS. */
function graceSeconds(value: OptionValues[string], fallback: number): number {
  if (value === undefined) return fallback;
  const seconds = parseSecretGrace(typeof value === "string" ? value : "");
  if (seconds === undefined) {
    throw new UsageError(`invalid --grace-seconds: a whole number of seconds from 0 to ${MAX_SECRET_GRACE_SECONDS} (30 days)`);
  }
  return seconds;
}

function clientJson(client: Client, secret?: string | null) {
  return {
    client_id: client.id,
    ...(secret !== undefined ? { client_secret: secret } : {}),
    name: client.name,
    client_type: client.clientType,
    source: client.source,
    application_type: client.applicationType,
    grant_types: client.grantTypes,
    redirect_uris: client.redirectUris,
    post_logout_redirect_uris: client.postLogoutRedirectUris,
    allowed_origins: client.allowedOrigins,
    resources: client.resources,
    scope: client.scope,
    skip_authorization: client.skipAuthorization,
    token_endpoint_auth_method: client.tokenEndpointAuthMethod,
    id_token_signed_response_alg: client.idTokenSignedResponseAlg,
    subject_type: client.subjectType,
    ...(client.jwks ? { jwks: client.jwks } : {}),
    ...(client.jwksUri ? { jwks_uri: client.jwksUri } : {}),
    ...(client.requirePushedAuthorizationRequests ? { require_pushed_authorization_requests: true } : {}),
    ...(graceEnd(client) !== undefined ? { previous_secret_expires_at: isoTime(graceEnd(client)!) } : {}),
    ...(client.dpopBoundAccessTokens ? { dpop_bound_access_tokens: true } : {}),
    ...(client.backchannelLogoutUri
      ? { backchannel_logout_uri: client.backchannelLogoutUri, backchannel_logout_session_required: client.backchannelLogoutSessionRequired }
      : {}),
    ...(client.frontchannelLogoutUri
      ? { frontchannel_logout_uri: client.frontchannelLogoutUri, frontchannel_logout_session_required: client.frontchannelLogoutSessionRequired }
      : {}),
    created_at: isoTime(client.createdAt),
  };
}

function clientText(client: Client, secret?: string | null): string {
  const rows: [string, string | string[]][] = [["client_id", client.id]];
  if (secret) rows.push(["client_secret", secret]);
  rows.push(
    ["name", client.name],
    ["type", `${client.clientType} (${client.applicationType})`],
    ["source", SOURCES[client.source]],
    ["grant types", client.grantTypes],
    ["redirect URIs", client.redirectUris],
    ["post-logout redirect URIs", client.postLogoutRedirectUris],
    ["allowed origins", client.allowedOrigins],
    ["resources", client.resources.length > 0 ? client.resources : "(any the server knows)"],
    ["scope", client.scope || "(none)"],
    ["skip consent", client.skipAuthorization ? "yes" : "no"],
    ["token endpoint auth", client.tokenEndpointAuthMethod],
  );
  if (client.jwks) rows.push(["keys (jwks)", client.jwks.keys.map((key) => String(key.kid ?? key.kty))]);
  if (client.jwksUri) rows.push(["jwks_uri", client.jwksUri]);
  rows.push(["pushed requests (PAR)", client.requirePushedAuthorizationRequests ? "required" : "optional"]);
  rows.push(["DPoP-bound tokens (RFC 9449)", client.dpopBoundAccessTokens ? "required" : "optional"]);
  const withSid = (required: boolean) => (required ? " (with sid)" : "");
  if (client.backchannelLogoutUri) rows.push(["back-channel logout", client.backchannelLogoutUri + withSid(client.backchannelLogoutSessionRequired)]);
  if (client.frontchannelLogoutUri) rows.push(["front-channel logout", client.frontchannelLogoutUri + withSid(client.frontchannelLogoutSessionRequired)]);
  const end = graceEnd(client);
  if (end !== undefined) rows.push(["previous secret until", isoTime(end)]);
  rows.push(["created", isoTime(client.createdAt)]);
  return fields(rows);
}

/** How each client came to be, as `client show` says it. */
const SOURCES: Record<Client["source"], string> = {
  admin: "admin (an operator)",
  registration: "registration (RFC 7591, by the client)",
  metadata_document: "metadata_document (fetched from its client_id URL)",
  user: "user (on the application pages, by its owner)",
};

const cacheNote = (what: string) =>
  `${what} within CLIENT_CACHE_SECONDS (default 30 s): warm Worker isolates cache client records for that long.`;

/** --owner USERNAME: the id of the user the new client belongs to. */
async function ownerOf(ctx: Context, value: OptionValues[string]): Promise<string | undefined> {
  if (value === undefined) return undefined;
  const username = str(value) ?? "";
  const user = await findUserByUsername(await ctx.db(), username);
  if (!user) throw new CliError(`user ${username} not found`);
  return user.id;
}

async function requireClient(ctx: Context, clientId: string): Promise<Client> {
  const client = await findClient(await ctx.db(), clientId);
  if (!client) throw new CliError(`client ${clientId} not found`);
  return client;
}

export const clientCommands: Record<string, Command> = {
  "client create": {
    summary: "Register a client (application); prints its secret, which is shown only here",
    usage:
      "--name NAME --type confidential|public --grant-types GRANT,... [--redirect-uris URI,...] [--application-type web|native] " +
      '[--scope "read write"] [--allowed-origins ORIGIN,...] [--resources URI,...] [--post-logout-redirect-uris URI,...] ' +
      "[--skip-consent] [--auth-method client_secret_basic|client_secret_post|private_key_jwt|client_secret_jwt|none] " +
      "[--jwks JSON | --jwks-uri URL] [--require-par] [--dpop-bound] " +
      "[--backchannel-logout-uri URL [--backchannel-logout-session-required]] [--frontchannel-logout-uri URL [--frontchannel-logout-session-required]] " +
      "[--id-token-alg RS256|ES256|EdDSA|PS256|ES384] [--subject-type public|pairwise] [--owner USERNAME]",
    details:
      "Grant types: authorization_code, implicit, password, client_credentials, refresh_token.\n" +
      "List options take comma-separated values and may be repeated. --application-type native (any loopback port,\n" +
      "RFC 8252) is inferred for public clients whose redirect URIs are all loopback IP or custom-scheme URIs.\n" +
      "--resources limits the RFC 8707 resources (APIs) the client may ask tokens for; without it, any the server knows.\n" +
      "--owner USERNAME registers it for that user, as if made on the application pages (source user): it is\n" +
      "listed, edited and deleted at {basePath}/applications/ by that user.\n" +
      "--auth-method private_key_jwt (RFC 7523) needs the client's public keys: --jwks '{\"keys\":[...]}' or\n" +
      "--jwks-uri https://... (fetched by the server); it gets no secret. client_secret_jwt signs with the secret\n" +
      "(HS256), which is then also kept sealed under SECRET_KEY (from the environment or .dev.vars).\n" +
      "--require-par: the client must push its authorization requests (RFC 9126) to {basePath}/par/.\n" +
      "--dpop-bound: the client's access tokens must be DPoP-bound (RFC 9449): token requests without a proof are refused.\n" +
      "--backchannel-logout-uri URL: logout tokens are POSTed there when a session the client signed in from ends\n" +
      "(OIDC Back-Channel Logout); --frontchannel-logout-uri URL: framed by the sign-out page (Front-Channel Logout),\n" +
      "on the origin of a redirect URI; the --*-session-required flags ask for sid (and iss) in them.",
    options: {
      name: { type: "string" },
      type: { type: "string" },
      "application-type": { type: "string" },
      "grant-types": { type: "string", multiple: true },
      "redirect-uris": { type: "string", multiple: true },
      "post-logout-redirect-uris": { type: "string", multiple: true },
      "allowed-origins": { type: "string", multiple: true },
      resources: { type: "string", multiple: true },
      scope: { type: "string" },
      "skip-consent": { type: "boolean" },
      "auth-method": { type: "string" },
      "id-token-alg": { type: "string" },
      "subject-type": { type: "string" },
      owner: { type: "string" },
      jwks: { type: "string" },
      "jwks-uri": { type: "string" },
      "require-par": { type: "boolean" },
      "dpop-bound": { type: "boolean" },
      "backchannel-logout-uri": { type: "string" },
      "backchannel-logout-session-required": { type: "boolean" },
      "frontchannel-logout-uri": { type: "string" },
      "frontchannel-logout-session-required": { type: "boolean" },
    },
    async run(ctx) {
      requireOptions(ctx, ["name", "type", "grant-types"]);
      const o = ctx.options;
      const input = {
        name: str(o.name),
        clientType: str(o.type),
        applicationType: str(o["application-type"]),
        grantTypes: list(o["grant-types"]),
        redirectUris: list(o["redirect-uris"]),
        postLogoutRedirectUris: list(o["post-logout-redirect-uris"]),
        allowedOrigins: list(o["allowed-origins"]),
        resources: list(o.resources),
        scope: str(o.scope),
        skipAuthorization: o["skip-consent"] === true,
        tokenEndpointAuthMethod: str(o["auth-method"]),
        idTokenSignedResponseAlg: str(o["id-token-alg"]),
        subjectType: str(o["subject-type"]),
        jwks: jwksOption(o.jwks),
        jwksUri: str(o["jwks-uri"]),
        requirePushedAuthorizationRequests: o["require-par"] === true,
        dpopBoundAccessTokens: o["dpop-bound"] === true,
        backchannelLogoutUri: str(o["backchannel-logout-uri"]),
        backchannelLogoutSessionRequired: o["backchannel-logout-session-required"] === true,
        frontchannelLogoutUri: str(o["frontchannel-logout-uri"]),
        frontchannelLogoutSessionRequired: o["frontchannel-logout-session-required"] === true,
      };
      const checked = clientRegistrationSchema.safeParse(input);
      if (!checked.success) throw validationError(checked.error, input, CLIENT_FLAGS);
      const owner = await ownerOf(ctx, o.owner);
      const registration = { ...input, ...(owner ? { userId: owner, source: "user" as const } : {}) };
      const sealSecret = checked.data.tokenEndpointAuthMethod === "client_secret_jwt" ? clientSecretSealer(secretKey(ctx)) : undefined;
      const { client, clientSecret } = await registerClient(await ctx.db(), registration as ClientRegistration, { sealSecret });
      ctx.print(
        `Created client "${client.name}".\n${clientText(client, clientSecret)}` +
          (clientSecret ? "\n\nThe client secret is shown only now: store it safely." : ""),
        clientJson(client, clientSecret),
      );
    },
  },

  "client list": {
    summary: "List clients, with how each came to be: admin, registration (RFC 7591), metadata_document or user (application pages)",
    async run(ctx) {
      const clients = await listClients(await ctx.db());
      ctx.print(
        tableOr(
          "No clients.",
          ["CLIENT ID", "TYPE", "SOURCE", "NAME", "GRANT TYPES"],
          clients.map((c) => [c.id, c.clientType, c.source, c.name, c.grantTypes.join(",")]),
        ),
        clients.map((c) => clientJson(c)),
      );
    },
  },

  "client show": {
    summary: "Show a client",
    args: ["CLIENT_ID"],
    async run(ctx) {
      const client = await requireClient(ctx, ctx.args.CLIENT_ID!);
      ctx.print(clientText(client), clientJson(client));
    },
  },

  "client delete": {
    summary: "Delete a client (also one that registered itself: its registration access token stops with it)",
    args: ["CLIENT_ID"],
    async run(ctx) {
      const clientId = ctx.args.CLIENT_ID!;
      const store = { db: await ctx.db(), kv: await ctx.kv() };
      if (!(await deleteClientAndTokens(store, clientId, ctx.settings()))) throw new CliError(`client ${clientId} not found`);
      ctx.print(`Deleted client ${clientId}.`, { client_id: clientId, deleted: true });
      ctx.note(cacheNote("The client stops working"));
    },
  },

  "client revoke-tokens": {
    summary: "Revoke every token a client holds: its refresh tokens, and its access tokens issued until now",
    args: ["CLIENT_ID"],
    async run(ctx) {
      const client = await requireClient(ctx, ctx.args.CLIENT_ID!);
      const refreshTokens = await revokeClientTokens({ db: await ctx.db(), kv: await ctx.kv() }, client.id, ctx.settings());
      ctx.print(
        `Revoked ${refreshTokens} refresh tokens and every access token of client ${client.id} issued until now.`,
        { client_id: client.id, refresh_tokens_revoked: refreshTokens, access_tokens_revoked_before: new Date().toISOString() },
      );
      ctx.note(accessTokenWindowNote);
    },
  },

  "client rotate-secret": {
    summary: "Give a confidential client a new secret (printed once); the old one stays valid for a grace period",
    args: ["CLIENT_ID"],
    usage: "[--grace-seconds N]",
    details:
      "The new secret works at once. The old one is still accepted for --grace-seconds (default\n" +
      "CLIENT_CACHE_SECONDS, 30 s; 0 ends it at once), so the client can switch without a gap.\n" +
      "End the grace early with `client end-secret-grace CLIENT_ID`.",
    options: { "grace-seconds": { type: "string" } },
    async run(ctx) {
      const grace = graceSeconds(ctx.options["grace-seconds"], ctx.settings().CLIENT_CACHE_SECONDS);
      const client = await requireClient(ctx, ctx.args.CLIENT_ID!);
      if (client.clientType !== "confidential") {
        throw new CliError(`client ${client.id} is a public client: it has no secret`);
      }
      // client_secret_jwt: the new secret is sealed too (its HMAC key), and the old one stops at once.
      const rotated = await rotateClientSecret(await ctx.db(), client.id, grace, undefined, rotationSealer(client, () => secretKey(ctx)));
      if (!rotated) throw new CliError(`client ${client.id} not found`);
      const until = rotated.previousSecretExpiresAt;
      ctx.print(
        `New secret for client ${client.id} ("${client.name}"), shown only now:\n  ${rotated.secret}\n` +
          (until !== null ? `The previous secret is accepted until ${isoTime(until)}.` : "The previous secret is no longer accepted."),
        { client_id: client.id, client_secret: rotated.secret, previous_secret_expires_at: until !== null ? isoTime(until) : null },
      );
      if (until === null) ctx.note(cacheNote("The old secret stops working"));
    },
  },

  "client end-secret-grace": {
    summary: "Stop accepting a client's previous secret now (ends the grace of `client rotate-secret`)",
    args: ["CLIENT_ID"],
    async run(ctx) {
      const client = await requireClient(ctx, ctx.args.CLIENT_ID!);
      if (!(await dropPreviousClientSecret(await ctx.db(), client.id))) throw new CliError(`client ${client.id} not found`);
      ctx.print(`Client ${client.id} no longer accepts its previous secret.`, { client_id: client.id, previous_secret_expires_at: null });
      ctx.note(cacheNote("The previous secret stops working"));
    },
  },
};
