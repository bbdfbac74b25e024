import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { SIGNING_ALGORITHMS } from "../core/protocol";

const now = sql`(unixepoch())`;
const jsonList = (name: string) =>
  text(name, { mode: "json" }).$type<string[]>().notNull().default(sql`'[]'`);

/** Users who sign in at the authorization endpoint (the built-in user store). */
export const users = sqliteTable("users", {
  id: text("id").primaryKey(),
  username: text("username").notNull().unique(),
  email: text("email"),
  passwordHash: text("password_hash").notNull(),
  isActive: integer("is_active", { mode: "boolean" }).notNull().default(true),
  /** May use the operator console (`{basePath}/admin/`, when OPERATOR_CONSOLE is on): Django's `is_staff`. */
  isOperator: integer("is_operator", { mode: "boolean" }).notNull().default(false),
  /** OpenID Connect standard claims of the user (name, given_name, email_verified, address, ...), as JSON. */
  claims: text("claims", { mode: "json" }).$type<Record<string, unknown>>(),
  createdAt: integer("created_at").notNull().default(now),
  updatedAt: integer("updated_at").notNull().default(now),
});

export const CLIENT_TYPES = ["confidential", "public"] as const;
/**
 * How a client authenticates at the token endpoint (RFC 7591 §2): its secret (Basic or in the body),
 * a JWT assertion (RFC 7523, OIDC Core §9) signed with its private key (`private_key_jwt`) or with
 * its secret as HMAC key (`client_secret_jwt`), or nothing (`none`, public clients).
 */
export const TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "client_secret_jwt", "none"] as const;
export const SUBJECT_TYPES = ["public", "pairwise"] as const;
/** OIDC Dynamic Client Registration's `application_type`: native apps may use any loopback port (RFC 8252 §7.3). */
export const APPLICATION_TYPES = ["web", "native"] as const;
/**
 * How a client came to be: by an operator (admin CLI, console), by RFC 7591 dynamic registration,
 * from a client ID metadata document fetched at its `client_id` URL, or by a signed-in user on
 * the application pages (`{basePath}/applications/`; `user_id` is its owner).
 */
export const CLIENT_SOURCES = ["admin", "registration", "metadata_document", "user"] as const;
export const GRANT_TYPES = [
  "authorization_code",
  "implicit",
  "password",
  "client_credentials",
  "refresh_token",
  /** RFC 8628: the Device Authorization Grant. */
  "urn:ietf:params:oauth:grant-type:device_code",
  /** RFC 8693: Token Exchange (a resource server trades a user's token for a narrower one). */
  "urn:ietf:params:oauth:grant-type:token-exchange",
] as const;

/** Registered applications: everything DOT's `Application` has. */
export const clients = sqliteTable(
  "clients",
  {
    id: text("id").primaryKey(),
    /** base64url(SHA-256(secret)); null for public clients. */
    secretHash: text("secret_hash"),
    /** The secret before the last rotation, accepted until `previous_secret_expires_at` so a client can switch without a gap. */
    previousSecretHash: text("previous_secret_hash"),
    previousSecretExpiresAt: integer("previous_secret_expires_at"),
    name: text("name").notNull(),
    clientType: text("client_type", { enum: CLIENT_TYPES }).notNull(),
    applicationType: text("application_type", { enum: APPLICATION_TYPES }).notNull().default("web"),
    grantTypes: jsonList("grant_types"),
    redirectUris: jsonList("redirect_uris"),
    postLogoutRedirectUris: jsonList("post_logout_redirect_uris"),
    allowedOrigins: jsonList("allowed_origins"),
    /** Space-separated scopes the client may be granted. */
    scope: text("scope").notNull().default(""),
    skipAuthorization: integer("skip_authorization", { mode: "boolean" }).notNull().default(false),
    tokenEndpointAuthMethod: text("token_endpoint_auth_method", { enum: TOKEN_ENDPOINT_AUTH_METHODS }).notNull(),
    /** Algorithm of this client's ID tokens (OIDC Dynamic Registration's `id_token_signed_response_alg`). */
    idTokenSignedResponseAlg: text("id_token_signed_response_alg", { enum: SIGNING_ALGORITHMS }).notNull().default("RS256"),
    /** `public` (one `sub` per user) or `pairwise` (a different `sub` per client's host, OIDC Core §8.1). */
    subjectType: text("subject_type", { enum: SUBJECT_TYPES }).notNull().default("public"),
    userId: text("user_id").references(() => users.id, { onDelete: "set null" }),
    source: text("source", { enum: CLIENT_SOURCES }).notNull().default("admin"),
    /** RFC 7592: base64url(SHA-256) of the registration access token of a dynamically registered client. */
    registrationAccessTokenHash: text("registration_access_token_hash"),
    /** RFC 8707 resources this client may ask tokens for; empty: any resource the server knows (RESOURCES). */
    resources: jsonList("resources"),
    /** Registration metadata kept only to be shown back (client_uri, logo_uri, contacts, tos_uri, policy_uri, software_id, ...). */
    metadata: text("metadata", { mode: "json" }).$type<Record<string, unknown>>(),
    /** A metadata document client: when the document must be fetched again (Unix seconds, from its HTTP caching headers). */
    metadataExpiresAt: integer("metadata_expires_at"),
    /** `private_key_jwt` (RFC 7523): the client's public keys as a JWK set, or where to fetch them. */
    jwks: text("jwks", { mode: "json" }).$type<{ keys: Record<string, unknown>[] }>(),
    jwksUri: text("jwks_uri"),
    /**
     * `client_secret_jwt`: the HMAC key is the secret itself, so such a client's secret is also kept
     * sealed under SECRET_KEY (every other client's secret only as its hash).
     */
    secretSealed: text("secret_sealed"),
    /** RFC 9126 §6: this client must push its authorization requests (PAR). */
    requirePushedAuthorizationRequests: integer("require_pushed_authorization_requests", { mode: "boolean" }).notNull().default(false),
    /** RFC 9449 §5.2: this client's access tokens must be DPoP-bound. */
    dpopBoundAccessTokens: integer("dpop_bound_access_tokens", { mode: "boolean" }).notNull().default(false),
    /** OIDC Back-Channel Logout 1.0: where logout tokens are POSTed, and whether they must carry `sid`. */
    backchannelLogoutUri: text("backchannel_logout_uri"),
    backchannelLogoutSessionRequired: integer("backchannel_logout_session_required", { mode: "boolean" }).notNull().default(false),
    /** OIDC Front-Channel Logout 1.0: the page framed when the user signs out, and whether it gets `iss` and `sid`. */
    frontchannelLogoutUri: text("frontchannel_logout_uri"),
    frontchannelLogoutSessionRequired: integer("frontchannel_logout_session_required", { mode: "boolean" }).notNull().default(false),
    createdAt: integer("created_at").notNull().default(now),
    updatedAt: integer("updated_at").notNull().default(now),
  },
  (t) => [index("clients_user_id").on(t.userId)],
);

/** RFC 7591 §3: initial access tokens that allow registering a client, when registration is not open. Stored hashed. */
export const initialAccessTokens = sqliteTable("initial_access_tokens", {
  tokenHash: text("token_hash").primaryKey(),
  /** The operator's note (who the token was given to). */
  note: text("note").notNull().default(""),
  /** How many clients it may still register; null: no limit until it expires. */
  usesLeft: integer("uses_left"),
  expiresAt: integer("expires_at"),
  createdAt: integer("created_at").notNull().default(now),
});
export type InitialAccessToken = typeof initialAccessTokens.$inferSelect;

export type User = typeof users.$inferSelect;
export type Client = typeof clients.$inferSelect;
export type NewClient = typeof clients.$inferInsert;
export type GrantType = (typeof GRANT_TYPES)[number];

/** What a user approved for a client (DOT's "approval prompt auto": do not ask again for these scopes). */
export const consents = sqliteTable(
  "consents",
  {
    /** The account's id; not a foreign key, since accounts may come from the host's own store. */
    userId: text("user_id").notNull(),
    clientId: text("client_id").notNull().references(() => clients.id, { onDelete: "cascade" }),
    scope: text("scope").notNull(),
    /** Claims approved beyond those of the scopes (asked for with the `claims` parameter, OIDC Core §5.5). */
    claims: jsonList("claims"),
    /** Redirect URIs the user approved: a public client is approved again only for these (RFC 8252 §8.6). */
    redirectUris: jsonList("redirect_uris"),
    /** RFC 8707 resources the user approved by name (a request naming none is for the default audience). */
    resources: jsonList("resources"),
    createdAt: integer("created_at").notNull().default(now),
    updatedAt: integer("updated_at").notNull().default(now),
  },
  (t) => [primaryKey({ columns: [t.userId, t.clientId] })],
);

/**
 * Refresh tokens, stored as hashes. Every token of one authorization shares a `grant_id` (the
 * family): reuse of a rotated token revokes the whole family, and access tokens carry the same id.
 */
export const refreshTokens = sqliteTable(
  "refresh_tokens",
  {
    id: text("id").primaryKey(),
    tokenHash: text("token_hash").notNull().unique(),
    grantId: text("grant_id").notNull(),
    clientId: text("client_id").notNull().references(() => clients.id, { onDelete: "cascade" }),
    userId: text("user_id").notNull(),
    scope: text("scope").notNull(),
    authTime: integer("auth_time"),
    /** OIDC request details kept with the grant (e.g. the `claims` parameter), as JSON. */
    details: text("details", { mode: "json" }).$type<Record<string, unknown>>(),
    createdAt: integer("created_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
    rotatedAt: integer("rotated_at"),
    replacedBy: text("replaced_by"),
    revokedAt: integer("revoked_at"),
    /** RFC 9449 §5: a public client's token issued with a DPoP proof is bound to that key's thumbprint, across rotations. */
    jkt: text("jkt"),
  },
  (t) => [
    index("refresh_tokens_grant_id").on(t.grantId),
    index("refresh_tokens_expires_at").on(t.expiresAt),
    index("refresh_tokens_user_client").on(t.userId, t.clientId),
  ],
);

/** One row per redeemed authorization code: the primary key makes redemption single-use. */
export const codeRedemptions = sqliteTable(
  "code_redemptions",
  {
    codeHash: text("code_hash").primaryKey(),
    grantId: text("grant_id").notNull(),
    clientId: text("client_id").notNull(),
    redeemedAt: integer("redeemed_at").notNull(),
    /** When the code expired; cleanup keeps the row after it while the grant may have live tokens, so a late replay still revokes them. */
    expiresAt: integer("expires_at").notNull(),
  },
  (t) => [index("code_redemptions_expires_at").on(t.expiresAt)],
);


export type Consent = typeof consents.$inferSelect;
export type RefreshToken = typeof refreshTokens.$inferSelect;

/**
 * Browser sessions, checked on every use so that signing out ends them on the server (a copied
 * cookie stops working) and "sign out everywhere" exists. The cookie carries the id (`sid`).
 */
export const sessions = sqliteTable(
  "sessions",
  {
    id: text("id").primaryKey(),
    /** The account's id; not a foreign key, since accounts may come from the host's own store. */
    userId: text("user_id").notNull(),
    authTime: integer("auth_time").notNull(),
    expiresAt: integer("expires_at").notNull(),
  },
  (t) => [index("sessions_user_id").on(t.userId), index("sessions_expires_at").on(t.expiresAt)],
);

/**
 * Sign-in attempts per throttling key (a username with a client address, or a username alone):
 * counted before the password is checked, in one atomic statement, so parallel guesses cannot
 * exceed the limit.
 */
export const signInThrottle = sqliteTable("sign_in_throttle", {
  key: text("key").primaryKey(),
  attempts: integer("attempts").notNull(),
  windowStartedAt: integer("window_started_at").notNull(),
  lockedUntil: integer("locked_until"),
});

export type Session = typeof sessions.$inferSelect;

/**
 * What happened, for the operator console's "recent events": the security events (sign-ins,
 * lock-outs, reuse), revocations by users, changes of clients, and what operators did in the
 * console. Written after the response (`waitUntil`); tokens issued are not recorded (the hot path
 * writes nothing). Kept EVENT_HISTORY_DAYS; cleanup removes older rows.
 */
export const auditEvents = sqliteTable(
  "audit_events",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    at: integer("at").notNull(),
    type: text("type").notNull(),
    /** The user the event is about (or who acted, for users' own actions). */
    userId: text("user_id"),
    clientId: text("client_id"),
    /** The operator who acted in the console. */
    operatorId: text("operator_id"),
    /** The event's other fields (never a secret, token or password). */
    detail: text("detail", { mode: "json" }).$type<Record<string, unknown>>(),
  },
  (t) => [index("audit_events_at").on(t.at)],
);

export type AuditEvent = typeof auditEvents.$inferSelect;

/**
 * Signing keys kept in the database (DATABASE_SIGNING_KEYS): the private JWK sealed under
 * SECRET_KEY (AES-GCM, purpose "signing-key"), the public JWK in clear. A key is published from
 * `created_at`, signs from `signs_from` (null until promoted) and leaves the JWKS at `retired_at`
 * (the row stays, for the record). See docs/keys.md.
 */
export const signingKeys = sqliteTable(
  "signing_keys",
  {
    /** RFC 7638 thumbprint of the public key. */
    kid: text("kid").primaryKey(),
    alg: text("alg").notNull(),
    sealedPrivateJwk: text("sealed_private_jwk").notNull(),
    publicJwk: text("public_jwk", { mode: "json" }).notNull().$type<Record<string, unknown>>(),
    createdAt: integer("created_at").notNull(),
    signsFrom: integer("signs_from"),
    retiredAt: integer("retired_at"),
  },
  (t) => [index("signing_keys_retired_at").on(t.retiredAt)],
);

export type SigningKeyRow = typeof signingKeys.$inferSelect;

/**
 * Identifiers that may be used once within their lifetime: a pushed authorization request's
 * `request_uri` (RFC 9126), a client assertion's `jti` (RFC 7523), a DPoP proof's `jti` (RFC 9449).
 * Spending one is a single `INSERT … ON CONFLICT DO NOTHING` at the primary, so two concurrent uses
 * cannot both succeed; `id` is `<kind>:<SHA-256 of the value>`. Cleanup removes expired rows.
 */
export const spentIds = sqliteTable(
  "spent_ids",
  {
    id: text("id").primaryKey(),
    expiresAt: integer("expires_at").notNull(),
  },
  (t) => [index("spent_ids_expires_at").on(t.expiresAt)],
);

export const DEVICE_AUTHORIZATION_STATUSES = ["pending", "approved", "denied", "consumed"] as const;

/**
 * RFC 8628 device authorizations: the device code (as its SHA-256 hash) the device polls with, and
 * the user code a person types on the verification page. Approval, denial and redemption are
 * conditional updates at the primary, so a code is redeemed once.
 */
export const deviceAuthorizations = sqliteTable(
  "device_authorizations",
  {
    deviceCodeHash: text("device_code_hash").primaryKey(),
    /** Normalized (upper case, no separator). */
    userCode: text("user_code").notNull().unique(),
    clientId: text("client_id")
      .notNull()
      .references(() => clients.id, { onDelete: "cascade" }),
    scope: text("scope").notNull(),
    resources: jsonList("resources"),
    status: text("status", { enum: DEVICE_AUTHORIZATION_STATUSES }).notNull().default("pending"),
    /** Who approved or denied it, and when they signed in (`auth_time`). */
    userId: text("user_id"),
    authTime: integer("auth_time"),
    /** Seconds the device must wait between polls; raised by `slow_down`. */
    interval: integer("interval").notNull(),
    lastPolledAt: integer("last_polled_at"),
    expiresAt: integer("expires_at").notNull(),
    createdAt: integer("created_at").notNull().default(now),
  },
  (t) => [index("device_authorizations_expires_at").on(t.expiresAt)],
);

export type DeviceAuthorization = typeof deviceAuthorizations.$inferSelect;

/**
 * The relying parties a browser session signed in to, for logout (OIDC Back- and Front-Channel
 * Logout 1.0): one row per `sid` a client was told (in its ID token) and client with a logout URI,
 * written in the batch that redeems the code. `session_id` is the session that holds it now: the
 * same, or the one that replaced it when the same user signed in again in that browser (the client
 * still knows the old `sid`). Once that session has ended (its `sessions` row is gone) a row is a
 * logout token still to deliver: delivered rows are deleted, failed ones count their attempts and
 * are tried again by the cron cleanup. `issuer` is the `iss` the client's ID tokens carried.
 */
export const sessionClients = sqliteTable(
  "session_clients",
  {
    sid: text("sid").notNull(),
    sessionId: text("session_id").notNull(),
    clientId: text("client_id")
      .notNull()
      .references(() => clients.id, { onDelete: "cascade" }),
    userId: text("user_id").notNull(),
    issuer: text("issuer").notNull(),
    createdAt: integer("created_at").notNull(),
    logoutAttempts: integer("logout_attempts").notNull().default(0),
  },
  (t) => [
    primaryKey({ columns: [t.sid, t.clientId] }),
    index("session_clients_session_id").on(t.sessionId),
    index("session_clients_client_id").on(t.clientId),
  ],
);

export type SessionClient = typeof sessionClients.$inferSelect;
