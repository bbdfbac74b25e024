import { sql } from "drizzle-orm";
import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

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
  createdAt: integer("created_at").notNull().default(now),
  updatedAt: integer("updated_at").notNull().default(now),
});

export const CLIENT_TYPES = ["confidential", "public"] as const;
export const TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"] as const;
export const GRANT_TYPES = [
  "authorization_code",
  "implicit",
  "password",
  "client_credentials",
  "refresh_token",
] as const;

/** Registered applications: everything DOT's `Application` has. */
export const clients = sqliteTable(
  "clients",
  {
    id: text("id").primaryKey(),
    /** base64url(SHA-256(secret)); null for public clients. */
    secretHash: text("secret_hash"),
    name: text("name").notNull(),
    clientType: text("client_type", { enum: CLIENT_TYPES }).notNull(),
    grantTypes: jsonList("grant_types"),
    redirectUris: jsonList("redirect_uris"),
    postLogoutRedirectUris: jsonList("post_logout_redirect_uris"),
    allowedOrigins: jsonList("allowed_origins"),
    /** Space-separated scopes the client may be granted. */
    scope: text("scope").notNull().default(""),
    skipAuthorization: integer("skip_authorization", { mode: "boolean" }).notNull().default(false),
    tokenEndpointAuthMethod: text("token_endpoint_auth_method", { enum: TOKEN_ENDPOINT_AUTH_METHODS }).notNull(),
    userId: text("user_id").references(() => users.id, { onDelete: "set null" }),
    createdAt: integer("created_at").notNull().default(now),
    updatedAt: integer("updated_at").notNull().default(now),
  },
  (t) => [index("clients_user_id").on(t.userId)],
);

export type User = typeof users.$inferSelect;
export type Client = typeof clients.$inferSelect;
export type NewClient = typeof clients.$inferInsert;
export type GrantType = (typeof GRANT_TYPES)[number];
