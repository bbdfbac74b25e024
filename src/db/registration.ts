import { eq } from "drizzle-orm";
import { en } from "zod/locales";
import * as z from "zod/mini";
import { LOOPBACK_HOSTNAMES, SCOPE_LIST, SIGNING_ALGORITHMS } from "../core/protocol";
import { hashPassword, hashSecret, randomAlphanumeric, randomToken } from "../core/crypto";
import type { Database } from "./index";
import { insertClient, replaceClientSecretHash } from "./clients";
import { insertUser } from "./users";
import {
  APPLICATION_TYPES,
  CLIENT_SOURCES,
  CLIENT_TYPES,
  GRANT_TYPES,
  SUBJECT_TYPES,
  TOKEN_ENDPOINT_AUTH_METHODS,
  clients,
  type Client,
  type NewClient,
  type User,
} from "./schema";
import { nowSeconds } from "../core/time";

// zod/mini loads no locale; English messages for every parse, as classic zod set on import: the
// admin CLI parses these schemas itself and shows their messages.
z.config(en());

/** RFC 9700 §4.1 / RFC 8252: absolute, no fragment; http only for loopback; custom schemes for native apps. */
function checkRedirectUri(value: string, ctx: z.core.$RefinementCtx<string>): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    ctx.addIssue({ code: "custom", message: `"${value}" is not an absolute URI` });
    return;
  }
  if (url.hash || value.includes("#")) ctx.addIssue({ code: "custom", message: `"${value}" must not have a fragment` });
  if (url.protocol === "http:" && !LOOPBACK_HOSTNAMES.has(url.hostname)) {
    ctx.addIssue({ code: "custom", message: `"${value}" uses http; only loopback redirect URIs may` });
  }
  if (["javascript:", "data:", "file:", "vbscript:"].includes(url.protocol)) {
    ctx.addIssue({ code: "custom", message: `"${value}" uses a forbidden scheme` });
  }
}

export const redirectUriSchema = z.string().check(z.superRefine(checkRedirectUri));

function isOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return url.origin === value && (url.protocol === "https:" || url.protocol === "http:");
  } catch {
    return false;
  }
}

const originSchema = z.string().check(
  z.refine(isOrigin, "must be an origin such as https://app.example.com (scheme, host and port only)"),
);

/** RFC 8707 §2: a resource is an absolute URI without a fragment. */
function isResourceUri(value: string): boolean {
  return URL.canParse(value) && !value.includes("#");
}
export const resourceSchema = z.string().check(z.refine(isResourceUri, "must be an absolute URI without a fragment (RFC 8707)"));

/** JWK members that only a private or symmetric key has: a client's registered keys must be public (RFC 7517 §§6.2.2, 6.3.2, 6.4). */
export const PRIVATE_JWK_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] as const;

/** A client's public keys (private_key_jwt): a JWK set of 1 to 10 public keys, each with a `kty`. */
export const publicJwksSchema = z.object({ keys: z.array(z.record(z.string(), z.unknown())).check(z.minLength(1), z.maxLength(10)) }).check(
  z.superRefine((set, ctx) => {
    for (const key of set.keys) {
      if (typeof key.kty !== "string") ctx.addIssue({ code: "custom", message: "every key needs a kty" });
      if (PRIVATE_JWK_MEMBERS.some((member) => member in key)) {
        ctx.addIssue({ code: "custom", message: "keys must be public: no private or symmetric key members (d, p, q, dp, dq, qi, oth, k)" });
      }
    }
  }),
);

/** An https URL without a fragment (http only for loopback, for development). */
const httpsUriSchema = z.string().check(
  z.maxLength(2048),
  z.refine((value) => {
    if (!URL.canParse(value) || value.includes("#")) return false;
    const url = new URL(value);
    return url.protocol === "https:" || (url.protocol === "http:" && LOOPBACK_HOSTNAMES.has(url.hostname));
  }, "must be an https URL without a fragment"),
);

/** The origin of a URL that parses (the schema's own checks report the others). */
const originOf = (uri: string) => (URL.canParse(uri) ? new URL(uri).origin : undefined);

const scopeSchema = z.string().check(z.regex(SCOPE_LIST, "scopes are space-separated tokens without quotes or backslashes"));

export const clientRegistrationSchema = z
  .object({
    name: z.string().check(z.minLength(1), z.maxLength(200)),
    clientType: z.enum(CLIENT_TYPES),
    /** `native` apps may use any loopback port; inferred from the redirect URIs when not given. */
    applicationType: z.optional(z.enum(APPLICATION_TYPES)),
    grantTypes: z.array(z.enum(GRANT_TYPES)).check(z.minLength(1)),
    redirectUris: z._default(z.array(redirectUriSchema), []),
    postLogoutRedirectUris: z._default(z.array(redirectUriSchema), []),
    allowedOrigins: z._default(z.array(originSchema), []),
    scope: z._default(scopeSchema, ""),
    skipAuthorization: z._default(z.boolean(), false),
    tokenEndpointAuthMethod: z.optional(z.enum(TOKEN_ENDPOINT_AUTH_METHODS)),
    idTokenSignedResponseAlg: z._default(z.enum(SIGNING_ALGORITHMS), "RS256"),
    subjectType: z._default(z.enum(SUBJECT_TYPES), "public"),
    userId: z.nullish(z.string()),
    /** How the client came to be (default: an operator's). */
    source: z._default(z.enum(CLIENT_SOURCES), "admin"),
    /** RFC 8707 resources the client may ask for; empty: any the server knows. */
    resources: z._default(z.array(resourceSchema), []),
    /** Registration metadata only shown back (client_uri, logo_uri, contacts, ...). */
    metadata: z.nullish(z.record(z.string(), z.unknown())),
    /** private_key_jwt: the client's public keys, or (exactly one of the two) where it publishes them. */
    jwks: z.nullish(publicJwksSchema),
    jwksUri: z.nullish(httpsUriSchema),
    /** RFC 9126 §6: the client must push its authorization requests (PAR). */
    requirePushedAuthorizationRequests: z._default(z.boolean(), false),
    /** RFC 9449 §5.2: the client's access tokens must be DPoP-bound (token requests without a proof are refused). */
    dpopBoundAccessTokens: z._default(z.boolean(), false),
    /** OIDC Back-Channel Logout 1.0: where logout tokens are POSTed; whether they must carry `sid` (they always do). */
    backchannelLogoutUri: z.nullish(httpsUriSchema),
    backchannelLogoutSessionRequired: z._default(z.boolean(), false),
    /** OIDC Front-Channel Logout 1.0: the page framed at sign-out, on the origin of a redirect URI; whether it gets `iss` and `sid`. */
    frontchannelLogoutUri: z.nullish(httpsUriSchema),
    frontchannelLogoutSessionRequired: z._default(z.boolean(), false),
  })
  .check(
    z.superRefine((c, ctx) => {
      const redirects = c.grantTypes.includes("authorization_code") || c.grantTypes.includes("implicit");
      if (redirects && c.redirectUris.length === 0) {
        ctx.addIssue({ code: "custom", path: ["redirectUris"], message: "authorization_code and implicit need at least one redirect URI" });
      }
      if (c.clientType === "public" && c.grantTypes.includes("client_credentials")) {
        ctx.addIssue({ code: "custom", path: ["grantTypes"], message: "public clients cannot use client_credentials" });
      }
      // RFC 8693: a resource server trading the tokens it receives; `resources` name the APIs it serves.
      if (c.grantTypes.includes("urn:ietf:params:oauth:grant-type:token-exchange")) {
        if (c.clientType === "public") {
          ctx.addIssue({ code: "custom", path: ["grantTypes"], message: "public clients cannot use token-exchange" });
        } else if (c.resources.length === 0) {
          ctx.addIssue({ code: "custom", path: ["resources"], message: "token-exchange needs the resources the client serves" });
        }
      }
      if (c.clientType === "public" && c.tokenEndpointAuthMethod && c.tokenEndpointAuthMethod !== "none") {
        ctx.addIssue({ code: "custom", path: ["tokenEndpointAuthMethod"], message: "public clients authenticate with none" });
      }
      const hosts = new Set(c.redirectUris.map((uri) => URL.canParse(uri) && new URL(uri).host));
      if (c.subjectType === "pairwise" && hosts.size > 1) {
        ctx.addIssue({ code: "custom", path: ["subjectType"], message: "pairwise clients need all redirect URIs on one host (OIDC Core §8.1)" });
      }
      if (c.clientType === "confidential" && c.tokenEndpointAuthMethod === "none") {
        ctx.addIssue({ code: "custom", path: ["tokenEndpointAuthMethod"], message: "confidential clients need a secret method" });
      }
      const keys = Number(Boolean(c.jwks)) + Number(Boolean(c.jwksUri));
      if (c.tokenEndpointAuthMethod === "private_key_jwt" && keys !== 1) {
        ctx.addIssue({ code: "custom", path: ["jwks"], message: "private_key_jwt needs exactly one of jwks and jwks_uri" });
      }
      if (c.tokenEndpointAuthMethod !== "private_key_jwt" && keys > 0) {
        ctx.addIssue({ code: "custom", path: ["jwks"], message: "jwks and jwks_uri are only for private_key_jwt clients" });
      }
      if ((c.backchannelLogoutUri || c.frontchannelLogoutUri) && !redirects) {
        ctx.addIssue({ code: "custom", path: ["grantTypes"], message: "logout URIs are for clients that sign users in (authorization_code or implicit)" });
      }
      // Front-Channel Logout 1.0 §2: scheme, host and port those of a registered redirect URI.
      if (c.frontchannelLogoutUri && !c.redirectUris.some((uri) => originOf(uri) === originOf(c.frontchannelLogoutUri!))) {
        ctx.addIssue({ code: "custom", path: ["frontchannelLogoutUri"], message: "frontchannel_logout_uri must be on the origin (scheme, host and port) of a redirect URI" });
      }
    }),
  );

export type ClientRegistration = z.input<typeof clientRegistrationSchema>;

/** A public client whose redirect URIs are all loopback IP or custom-scheme URIs is a native app (RFC 8252 §7). */
function inferApplicationType(clientType: string, redirectUris: readonly string[]): "web" | "native" {
  if (clientType !== "public" || redirectUris.length === 0) return "web";
  const nativeUri = (uri: string) => {
    const url = new URL(uri);
    return url.protocol === "http:" ? url.hostname === "127.0.0.1" || url.hostname === "[::1]" : url.protocol !== "https:";
  };
  return redirectUris.every(nativeUri) ? "native" : "web";
}

type RegistrationColumns = Omit<NewClient, "id" | "secretHash" | "registrationAccessTokenHash" | "metadataExpiresAt" | "source">;

/** The columns a checked registration sets (the same for a new client and for a replaced registration). */
export function registrationColumns(reg: z.output<typeof clientRegistrationSchema>): RegistrationColumns {
  return {
    resources: reg.resources,
    metadata: reg.metadata ?? null,
    name: reg.name,
    clientType: reg.clientType,
    applicationType: reg.applicationType ?? inferApplicationType(reg.clientType, reg.redirectUris),
    grantTypes: [...new Set(reg.grantTypes)],
    redirectUris: reg.redirectUris,
    postLogoutRedirectUris: reg.postLogoutRedirectUris,
    allowedOrigins: reg.allowedOrigins,
    scope: reg.scope.split(" ").filter(Boolean).join(" "),
    skipAuthorization: reg.skipAuthorization,
    tokenEndpointAuthMethod: reg.tokenEndpointAuthMethod ?? (reg.clientType === "public" ? "none" : "client_secret_basic"),
    idTokenSignedResponseAlg: reg.idTokenSignedResponseAlg,
    subjectType: reg.subjectType,
    userId: reg.userId ?? null,
    jwks: reg.jwks ?? null,
    jwksUri: reg.jwksUri ?? null,
    requirePushedAuthorizationRequests: reg.requirePushedAuthorizationRequests,
    dpopBoundAccessTokens: reg.dpopBoundAccessTokens,
    backchannelLogoutUri: reg.backchannelLogoutUri ?? null,
    backchannelLogoutSessionRequired: reg.backchannelLogoutSessionRequired,
    frontchannelLogoutUri: reg.frontchannelLogoutUri ?? null,
    frontchannelLogoutSessionRequired: reg.frontchannelLogoutSessionRequired,
  };
}

/**
 * The registration a client row stands for: the inverse of `registrationColumns`, for a form that
 * shows some fields only (the application pages), so that the others keep their values on update.
 * The application type is left to be inferred again from the redirect URIs.
 */
export function registrationOfClient(client: Client): ClientRegistration {
  return {
    name: client.name,
    clientType: client.clientType,
    grantTypes: client.grantTypes as ClientRegistration["grantTypes"],
    redirectUris: client.redirectUris,
    postLogoutRedirectUris: client.postLogoutRedirectUris,
    allowedOrigins: client.allowedOrigins,
    scope: client.scope,
    skipAuthorization: client.skipAuthorization,
    tokenEndpointAuthMethod: client.tokenEndpointAuthMethod,
    idTokenSignedResponseAlg: client.idTokenSignedResponseAlg,
    subjectType: client.subjectType,
    userId: client.userId,
    source: client.source,
    resources: client.resources,
    metadata: client.metadata,
    jwks: client.jwks as ClientRegistration["jwks"],
    jwksUri: client.jwksUri,
    requirePushedAuthorizationRequests: client.requirePushedAuthorizationRequests,
    dpopBoundAccessTokens: client.dpopBoundAccessTokens,
    backchannelLogoutUri: client.backchannelLogoutUri,
    backchannelLogoutSessionRequired: client.backchannelLogoutSessionRequired,
    frontchannelLogoutUri: client.frontchannelLogoutUri,
    frontchannelLogoutSessionRequired: client.frontchannelLogoutSessionRequired,
  };
}

/** Seals a client_secret_jwt client's secret (its HMAC key) under SECRET_KEY: given by callers above the database layer. */
export type SecretSealer = (secret: string) => Promise<string>;

function sealerFor(reg: z.output<typeof clientRegistrationSchema>, sealSecret: SecretSealer | undefined): SecretSealer | undefined {
  if (reg.tokenEndpointAuthMethod !== "client_secret_jwt") return undefined;
  if (!sealSecret) throw new Error("a client_secret_jwt client's secret must be sealed: pass sealSecret");
  return sealSecret;
}

/**
 * Creates a client; the secret (confidential clients) is returned once and stored only as a hash.
 * `extra` holds what only some callers set: a chosen id (a metadata document's URL), the hash of a
 * registration access token (RFC 7592), when a metadata document must be fetched again.
 */
export async function registerClient(
  db: Database,
  input: ClientRegistration,
  extra: { id?: string; registrationAccessTokenHash?: string; metadataExpiresAt?: number; sealSecret?: SecretSealer } = {},
): Promise<{ client: Client; clientSecret: string | null }> {
  const reg = clientRegistrationSchema.parse(input);
  // A private_key_jwt client has keys, not a secret.
  const clientSecret = reg.clientType === "confidential" && reg.tokenEndpointAuthMethod !== "private_key_jwt" ? randomToken(32) : null;
  const sealer = sealerFor(reg, extra.sealSecret);
  const client = await insertClient(db, {
    ...registrationColumns(reg),
    id: extra.id ?? randomAlphanumeric(32),
    source: reg.source,
    registrationAccessTokenHash: extra.registrationAccessTokenHash ?? null,
    metadataExpiresAt: extra.metadataExpiresAt ?? null,
    secretHash: clientSecret ? await hashSecret(clientSecret) : null,
    secretSealed: clientSecret && sealer ? await sealer(clientSecret) : null,
  });
  return { client, clientSecret };
}

/** Whether a registration's client authenticates with a secret (confidential, and not with its keys). */
const usesSecret = (columns: RegistrationColumns) => columns.clientType === "confidential" && columns.tokenEndpointAuthMethod !== "private_key_jwt";

/**
 * What a replaced registration does to the client's secret, so that a secret exists exactly when
 * the new method uses one and a sealed copy exactly when it is client_secret_jwt: kept when it
 * still serves; dropped when the method uses none (private_key_jwt); a new one issued (the old one
 * and any grace end) when the method needs what the client lacks: a secret after private_key_jwt,
 * or a sealed one on a switch to client_secret_jwt (a hashed secret cannot be unsealed).
 */
async function secretOnReplace(
  existing: Client,
  columns: RegistrationColumns,
  sealSecret: SecretSealer | undefined,
): Promise<{ changes: Partial<NewClient>; clientSecret: string | null }> {
  const noPrevious = { previousSecretHash: null, previousSecretExpiresAt: null };
  if (!usesSecret(columns)) {
    return { changes: { secretHash: null, secretSealed: null, ...noPrevious }, clientSecret: null };
  }
  const sealed = columns.tokenEndpointAuthMethod === "client_secret_jwt";
  if (existing.secretHash !== null && (!sealed || existing.secretSealed !== null)) {
    return { changes: sealed ? {} : { secretSealed: null }, clientSecret: null };
  }
  if (sealed && !sealSecret) throw new Error("a client_secret_jwt client's secret must be sealed: pass sealSecret");
  const { secret, hash } = await newClientSecret();
  const secretSealed = sealed ? await sealSecret!(secret) : null;
  return { changes: { secretHash: hash, secretSealed, ...noPrevious }, clientSecret: secret };
}

/**
 * Replaces a client's registration (RFC 7592 §2.2: the new metadata replaces, never augments, the
 * old). Its id, source and registration access token stay; so does its secret, unless the new
 * method needs another (`secretOnReplace`): the new secret is then returned, to be shown once.
 * Undefined if the client no longer exists.
 */
export async function replaceClientRegistration(
  db: Database,
  existing: Client,
  input: ClientRegistration,
  extra: { metadataExpiresAt?: number | null; sealSecret?: SecretSealer } = {},
): Promise<{ client: Client; clientSecret: string | null } | undefined> {
  const reg = clientRegistrationSchema.parse(input);
  const columns = registrationColumns(reg);
  const secret = await secretOnReplace(existing, columns, extra.sealSecret);
  const changes = {
    ...columns,
    ...secret.changes,
    ...(extra.metadataExpiresAt !== undefined ? { metadataExpiresAt: extra.metadataExpiresAt } : {}),
    updatedAt: nowSeconds(),
  };
  const [row] = await db.update(clients).set(changes).where(eq(clients.id, existing.id)).returning();
  return row && { client: row, clientSecret: secret.clientSecret };
}

/** A new client secret and its hash; the secret is shown once, only the hash is stored. */
export async function newClientSecret(): Promise<{ secret: string; hash: string }> {
  const secret = randomToken(32);
  return { secret, hash: await hashSecret(secret) };
}

/** The longest a rotated-away secret may stay valid: 30 days. */
export const MAX_SECRET_GRACE_SECONDS = 2_592_000;

/** A grace period as typed (CLI flag, console field): whole seconds from 0 to 30 days, else undefined. */
export function parseSecretGrace(text: string): number | undefined {
  return /^\d{1,7}$/.test(text) && Number(text) <= MAX_SECRET_GRACE_SECONDS ? Number(text) : undefined;
}

/**
 * `client rotate-secret`: a new secret, which works at once in every isolate; the old one stays
 * valid for `graceSeconds` (0: it stops at once, or within the client cache time in warm isolates),
 * so clients can switch without a gap. Undefined if the client does not exist.
 */
export async function rotateClientSecret(
  db: Database,
  clientId: string,
  graceSeconds: number,
  now = nowSeconds(),
  sealSecret?: SecretSealer,
): Promise<{ secret: string; previousSecretExpiresAt: number | null } | undefined> {
  const { secret, hash } = await newClientSecret();
  const previousSecretExpiresAt = graceSeconds > 0 ? now + graceSeconds : null;
  // client_secret_jwt: the new secret is sealed too (its HMAC key); the previous one has no grace there.
  const sealed = sealSecret ? await sealSecret(secret) : null;
  if (!(await replaceClientSecretHash(db, clientId, hash, previousSecretExpiresAt, sealed))) return undefined;
  return { secret, previousSecretExpiresAt };
}

export const userRegistrationSchema = z.object({
  username: z.string().check(z.minLength(1), z.maxLength(150), z.regex(/^[\w.@+-]+$/, "letters, digits and @ . + - _ only (as Django)")),
  password: z.string().check(z.minLength(8, "at least 8 characters"), z.maxLength(1024)),
  email: z.nullish(z.email()),
  /** OpenID Connect standard claims (name, given_name, email_verified, address, phone_number, ...). */
  claims: z.nullish(z.record(z.string(), z.unknown())),
  /** May use the operator console. */
  operator: z.optional(z.boolean()),
});

export async function registerUser(db: Database, input: z.input<typeof userRegistrationSchema>): Promise<User> {
  const reg = userRegistrationSchema.parse(input);
  return insertUser(db, {
    username: reg.username,
    email: reg.email ?? null,
    claims: reg.claims ?? null,
    isOperator: reg.operator ?? false,
    passwordHash: await hashPassword(reg.password),
  });
}
