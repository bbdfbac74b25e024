/**
 * Admin CLI: `npm run admin -- <command> [options]` (run `npm run admin -- help`).
 *
 * Acts on the local D1 database that `wrangler dev` / `npm start` serve (wrangler's local state,
 * `--persist-to DIR`, default .wrangler/state), or with `--remote` on the deployed one.
 * Commands are entries of the `commands` table below: adding a command is adding an entry.
 * Exit codes: 0 success, 1 failure or not found, 2 usage error.
 */
import { readFileSync, writeFileSync } from "node:fs";
import module from "node:module";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import { z } from "zod";
import { hashPassword } from "../src/core/crypto";
import { deleteClient, dropPreviousClientSecret, findClient, listClients } from "../src/db/clients";
import type { Database } from "../src/db/index";
import {
  clientRegistrationSchema,
  registerClient,
  registerUser,
  rotateClientSecret,
  userRegistrationSchema,
  type ClientRegistration,
} from "../src/db/registration";
import type { Client, User } from "../src/db/schema";
import { findUserByUsername, listUsers, setUserActive, setUserPassword } from "../src/db/users";
import { SIGNING_ALGORITHMS } from "../src/core/protocol";
import { generateSigningKey, generateSigningKeySet } from "../src/tokens/generate-keys";
import { addKey, KeyRotationError, parseKeySet, promoteKey, retireKey, signingKids, type KeySet } from "../src/tokens/key-rotation";
import { clearExpired } from "../src/db/cleanup";
import { revokeClientRefreshTokens } from "../src/db/refresh-tokens";
import { parseSettings, type Settings } from "../src/core/settings";
import { revokeClientAccessTokens, revokeUserTokens } from "../src/tokens/revocation";
import { deleteUserSessions } from "../src/db/sessions";
import type { LocalDatabase } from "./lib/local-db";
import { DEFAULT_STATE_DIR, runWrangler, wranglerVars } from "./lib/project";

// ---------------------------------------------------------------------------------------------
// Framework: errors, option specs, the context a command runs with.

/** A bad command line: printed with the command's usage, exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** A failure the user should see as a plain message (no stack): exit code 1 by default. */
export class CliError extends Error {
  override name = "CliError";
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

type OptionSpec = { type: "string" | "boolean"; multiple?: boolean; short?: string };
type OptionValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

interface Context {
  /** Parsed options (global and the command's own), by long name. */
  options: OptionValues;
  /** The command's positional arguments, by the names in `Command.args`. */
  args: Record<string, string>;
  json: boolean;
  /** The database (opened on first use, after the command validated its input). */
  db(): Promise<Database>;
  /** Where revocation notes go: the local KV namespace, or the deployed one through wrangler. */
  kv(): Promise<Pick<KVNamespace, "put">>;
  /** The Worker's settings: wrangler.toml's [vars], overridden by the environment. */
  settings(): Settings;
  /** Prints a result: `human` text, or `data` as JSON with --json. */
  print(human: string, data: unknown): void;
  /** Prints a note for humans (stdout normally, stderr with --json so stdout stays JSON). */
  note(text: string): void;
  /** Prints a line to stdout as is, or to stderr. */
  out(text: string): void;
  err(text: string): void;
}

interface Command {
  summary: string;
  /** Required positional arguments, e.g. ["CLIENT_ID"]. */
  args?: string[];
  /** Option synopsis for the usage text. */
  usage?: string;
  /** Longer help shown by `help <command>`. */
  details?: string;
  options?: Record<string, OptionSpec>;
  run(ctx: Context): Promise<void>;
}

const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  json: { type: "boolean" },
  "persist-to": { type: "string" },
  remote: { type: "boolean" },
  help: { type: "boolean", short: "h" },
};

// ---------------------------------------------------------------------------------------------
// Helpers for the commands.

/** Comma-separated (and/or repeated) list option → trimmed, non-empty items. */
function list(value: OptionValues[string]): string[] | undefined {
  if (value === undefined) return undefined;
  const parts = (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === "string");
  return parts.flatMap((part) => part.split(",")).map((s) => s.trim()).filter(Boolean);
}

function parseJsonOption(value: string | undefined, flag: string): unknown {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value);
  } catch {
    throw new UsageError(`invalid ${flag}: not JSON`);
  }
}

function str(value: OptionValues[string]): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function requireOptions(ctx: Context, names: string[]): void {
  const missing = names.filter((name) => ctx.options[name] === undefined);
  if (missing.length) throw new UsageError(`missing required option ${missing.map((n) => `--${n}`).join(", ")}`);
}

/** A zod error as one line per problem, naming the command-line option (`flags` maps field → option). */
function validationError(error: z.ZodError, input: object, flags: Record<string, string>): UsageError {
  const lines = error.issues.map((issue) => {
    const [field, index] = issue.path;
    const key = field === undefined ? "" : String(field);
    const flag = flags[key] ?? (key || "input");
    let shown = "";
    if (typeof index === "number") {
      const value = (input as Record<string, unknown[]>)[String(field)]?.[index];
      if (value !== undefined && !issue.message.includes(String(value))) shown = ` ${JSON.stringify(value)}`;
    }
    return `invalid ${flag}${shown}: ${issue.message}`;
  });
  return new UsageError(lines.join("\n"));
}

const CLIENT_FLAGS: Record<string, string> = {
  name: "--name",
  clientType: "--type",
  applicationType: "--application-type",
  grantTypes: "--grant-types",
  redirectUris: "--redirect-uris",
  postLogoutRedirectUris: "--post-logout-redirect-uris",
  allowedOrigins: "--allowed-origins",
  scope: "--scope",
  skipAuthorization: "--skip-consent",
  tokenEndpointAuthMethod: "--auth-method",
  idTokenSignedResponseAlg: "--id-token-alg",
  subjectType: "--subject-type",
};
const USER_FLAGS: Record<string, string> = { username: "--username", password: "--password", email: "--email", claims: "--claims" };

const isoTime = (seconds: number) => new Date(seconds * 1000).toISOString();

/** When the previous secret stops being accepted, if a rotation's grace is still running. */
function graceEnd(client: Client): number | undefined {
  const end = client.previousSecretExpiresAt;
  return client.previousSecretHash !== null && end !== null && end > Date.now() / 1000 ? end : undefined;
}

/** --grace-seconds: whole seconds, 0 to 30 days; default CLIENT_CACHE_SECONDS. */
function graceSeconds(value: OptionValues[string], fallback: number): number {
  if (value === undefined) return fallback;
  const text = typeof value === "string" ? value : "";
  if (!/^\d{1,7}$/.test(text) || Number(text) > 2_592_000) {
    throw new UsageError("invalid --grace-seconds: a whole number of seconds from 0 to 2592000 (30 days)");
  }
  return Number(text);
}

function clientJson(client: Client, secret?: string | null) {
  return {
    client_id: client.id,
    ...(secret !== undefined ? { client_secret: secret } : {}),
    name: client.name,
    client_type: client.clientType,
    application_type: client.applicationType,
    grant_types: client.grantTypes,
    redirect_uris: client.redirectUris,
    post_logout_redirect_uris: client.postLogoutRedirectUris,
    allowed_origins: client.allowedOrigins,
    scope: client.scope,
    skip_authorization: client.skipAuthorization,
    token_endpoint_auth_method: client.tokenEndpointAuthMethod,
    id_token_signed_response_alg: client.idTokenSignedResponseAlg,
    subject_type: client.subjectType,
    ...(graceEnd(client) !== undefined ? { previous_secret_expires_at: isoTime(graceEnd(client)!) } : {}),
    created_at: isoTime(client.createdAt),
  };
}

function userJson(user: User) {
  return {
    id: user.id,
    username: user.username,
    email: user.email,
    is_active: user.isActive,
    created_at: isoTime(user.createdAt),
  };
}

/** Aligned `label  value` lines; list values continue on the following lines. */
function fields(rows: [string, string | string[]][]): string {
  const width = Math.max(...rows.map(([label]) => label.length)) + 2;
  return rows
    .flatMap(([label, value]) => {
      const values = Array.isArray(value) ? (value.length ? value : ["(none)"]) : [value];
      return values.map((v, i) => `  ${(i === 0 ? label : "").padEnd(width)}${v}`);
    })
    .join("\n");
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

function clientText(client: Client, secret?: string | null): string {
  const rows: [string, string | string[]][] = [["client_id", client.id]];
  if (secret) rows.push(["client_secret", secret]);
  rows.push(
    ["name", client.name],
    ["type", `${client.clientType} (${client.applicationType})`],
    ["grant types", client.grantTypes],
    ["redirect URIs", client.redirectUris],
    ["post-logout redirect URIs", client.postLogoutRedirectUris],
    ["allowed origins", client.allowedOrigins],
    ["scope", client.scope || "(none)"],
    ["skip consent", client.skipAuthorization ? "yes" : "no"],
    ["token endpoint auth", client.tokenEndpointAuthMethod],
  );
  const end = graceEnd(client);
  if (end !== undefined) rows.push(["previous secret until", isoTime(end)]);
  rows.push(["created", isoTime(client.createdAt)]);
  return fields(rows);
}

function userText(user: User): string {
  return fields([
    ["id", user.id],
    ["username", user.username],
    ["email", user.email ?? "(none)"],
    ["active", user.isActive ? "yes" : "no"],
    ["created", isoTime(user.createdAt)],
  ]);
}

const cacheNote = (what: string) =>
  `${what} within CLIENT_CACHE_SECONDS (default 30 s): warm Worker isolates cache client records for that long.`;

async function requireClient(ctx: Context, clientId: string): Promise<Client> {
  const client = await findClient(await ctx.db(), clientId);
  if (!client) throw new CliError(`client ${clientId} not found`);
  return client;
}

async function requireUser(ctx: Context, username: string): Promise<User> {
  const user = await findUserByUsername(await ctx.db(), username);
  if (!user) throw new CliError(`user ${username} not found`);
  return user;
}

/**
 * Ends what a user holds: every browser session (at once) and, with `tokens`, every refresh token
 * (at once) and access token (through KV, within about 60 s elsewhere).
 */
async function endUserAccess(ctx: Context, user: User, tokens: boolean) {
  const db = await ctx.db();
  const sessions = await deleteUserSessions(db, user.id);
  if (!tokens) return { human: `Ended ${sessions} browser sessions.`, data: { sessions_ended: sessions } };
  const revoked = await revokeUserTokens({ db, kv: await ctx.kv() }, user.id, ctx.settings());
  return {
    human: `Ended ${sessions} browser sessions; revoked ${revoked.refreshTokens} refresh tokens and every access token issued until now.`,
    data: { sessions_ended: sessions, refresh_tokens_revoked: revoked.refreshTokens, access_tokens_revoked_before: new Date().toISOString() },
  };
}

const accessTokenWindowNote = "Access tokens are refused within about 60 s everywhere (KV propagation, docs/consistency.md).";

const keyStepsHelp =
  "Rotation is add-then-retire (docs/keys.md): add, deploy, wait for JWKS caches (6 min) and relying\n" +
  "parties; promote, deploy; after the longest token lifetime, retire, deploy. Deployed:\n" +
  "  npm run -s admin -- keys add --alg RS256 --file keys.json > next.json\n" +
  "  npx wrangler secret put SIGNING_KEYS < next.json";

// ---------------------------------------------------------------------------------------------
// The commands.

export const commands: Record<string, Command> = {
  "client create": {
    summary: "Register a client (application); prints its secret, which is shown only here",
    usage:
      "--name NAME --type confidential|public --grant-types GRANT,... [--redirect-uris URI,...] [--application-type web|native] " +
      '[--scope "read write"] [--allowed-origins ORIGIN,...] [--post-logout-redirect-uris URI,...] ' +
      "[--skip-consent] [--auth-method client_secret_basic|client_secret_post|none] " +
      "[--id-token-alg RS256|ES256|EdDSA|PS256|ES384] [--subject-type public|pairwise]",
    details:
      "Grant types: authorization_code, implicit, password, client_credentials, refresh_token.\n" +
      "List options take comma-separated values and may be repeated. --application-type native (any loopback port,\n" +
      "RFC 8252) is inferred for public clients whose redirect URIs are all loopback IP or custom-scheme URIs.",
    options: {
      name: { type: "string" },
      type: { type: "string" },
      "application-type": { type: "string" },
      "grant-types": { type: "string", multiple: true },
      "redirect-uris": { type: "string", multiple: true },
      "post-logout-redirect-uris": { type: "string", multiple: true },
      "allowed-origins": { type: "string", multiple: true },
      scope: { type: "string" },
      "skip-consent": { type: "boolean" },
      "auth-method": { type: "string" },
      "id-token-alg": { type: "string" },
      "subject-type": { type: "string" },
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
        scope: str(o.scope),
        skipAuthorization: o["skip-consent"] === true,
        tokenEndpointAuthMethod: str(o["auth-method"]),
        idTokenSignedResponseAlg: str(o["id-token-alg"]),
        subjectType: str(o["subject-type"]),
      };
      const checked = clientRegistrationSchema.safeParse(input);
      if (!checked.success) throw validationError(checked.error, input, CLIENT_FLAGS);
      const { client, clientSecret } = await registerClient(await ctx.db(), input as ClientRegistration);
      ctx.print(
        `Created client "${client.name}".\n${clientText(client, clientSecret)}` +
          (clientSecret ? "\n\nThe client secret is shown only now: store it safely." : ""),
        clientJson(client, clientSecret),
      );
    },
  },

  "client list": {
    summary: "List clients",
    async run(ctx) {
      const clients = await listClients(await ctx.db());
      ctx.print(
        clients.length
          ? table(
              ["CLIENT ID", "TYPE", "NAME", "GRANT TYPES"],
              clients.map((c) => [c.id, c.clientType, c.name, c.grantTypes.join(",")]),
            )
          : "No clients.",
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
    summary: "Delete a client",
    args: ["CLIENT_ID"],
    async run(ctx) {
      const clientId = ctx.args.CLIENT_ID!;
      if (!(await deleteClient(await ctx.db(), clientId))) throw new CliError(`client ${clientId} not found`);
      // Its refresh tokens went with it (foreign key); its access tokens are refused from now on.
      await revokeClientAccessTokens(await ctx.kv(), clientId, ctx.settings().ACCESS_TOKEN_EXPIRE_SECONDS);
      ctx.print(`Deleted client ${clientId}.`, { client_id: clientId, deleted: true });
      ctx.note(cacheNote("The client stops working"));
    },
  },

  "client revoke-tokens": {
    summary: "Revoke every token a client holds: its refresh tokens, and its access tokens issued until now",
    args: ["CLIENT_ID"],
    async run(ctx) {
      const client = await requireClient(ctx, ctx.args.CLIENT_ID!);
      const refreshTokens = await revokeClientRefreshTokens(await ctx.db(), client.id, Math.floor(Date.now() / 1000));
      await revokeClientAccessTokens(await ctx.kv(), client.id, ctx.settings().ACCESS_TOKEN_EXPIRE_SECONDS);
      ctx.print(
        `Revoked ${refreshTokens} refresh tokens and every access token of client ${client.id} issued until now.`,
        { client_id: client.id, refresh_tokens_revoked: refreshTokens, access_tokens_revoked_before: new Date().toISOString() },
      );
      ctx.note("Access tokens are refused within about 60 s everywhere (KV propagation, docs/consistency.md).");
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
      const rotated = await rotateClientSecret(await ctx.db(), client.id, grace);
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

  "user create": {
    summary: "Create a user who can sign in at the authorization endpoint",
    usage: "--username NAME --password PASS [--email EMAIL] [--claims JSON]",
    details: 'OpenID Connect claims as JSON, e.g. --claims \'{"name": "Ada Lovelace", "email_verified": true}\'',
    options: { username: { type: "string" }, password: { type: "string" }, email: { type: "string" }, claims: { type: "string" } },
    async run(ctx) {
      requireOptions(ctx, ["username", "password"]);
      const input = {
        username: str(ctx.options.username),
        password: str(ctx.options.password),
        email: str(ctx.options.email),
        claims: parseJsonOption(str(ctx.options.claims), "--claims"),
      };
      const checked = userRegistrationSchema.safeParse(input);
      if (!checked.success) throw validationError(checked.error, input, USER_FLAGS);
      const db = await ctx.db();
      if (await findUserByUsername(db, checked.data.username)) {
        throw new CliError(`user ${checked.data.username} already exists`);
      }
      const user = await registerUser(db, checked.data);
      ctx.print(`Created user ${user.username}.\n${userText(user)}`, userJson(user));
    },
  },

  "user list": {
    summary: "List users",
    async run(ctx) {
      const users = await listUsers(await ctx.db());
      ctx.print(
        users.length
          ? table(
              ["USERNAME", "ACTIVE", "EMAIL", "ID"],
              users.map((u) => [u.username, u.isActive ? "yes" : "no", u.email ?? "", u.id]),
            )
          : "No users.",
        users.map(userJson),
      );
    },
  },

  "user disable": {
    summary: "Stop a user from signing in; ends their sessions and revokes their tokens",
    args: ["USERNAME"],
    async run(ctx) {
      const username = ctx.args.USERNAME!;
      const user = await requireUser(ctx, username);
      if (!(await setUserActive(await ctx.db(), username, false))) throw new CliError(`user ${username} not found`);
      const ended = await endUserAccess(ctx, user, true);
      ctx.print(`Disabled user ${username}. ${ended.human}`, { username, is_active: false, ...ended.data });
      ctx.note(accessTokenWindowNote);
    },
  },

  "user enable": {
    summary: "Let a disabled user sign in again",
    args: ["USERNAME"],
    async run(ctx) {
      const username = ctx.args.USERNAME!;
      if (!(await setUserActive(await ctx.db(), username, true))) throw new CliError(`user ${username} not found`);
      ctx.print(`Enabled user ${username}.`, { username, is_active: true });
    },
  },

  "user set-password": {
    summary: "Set a user's password; ends their sessions and revokes their tokens",
    args: ["USERNAME"],
    usage: "--password PASS",
    options: { password: { type: "string" } },
    async run(ctx) {
      requireOptions(ctx, ["password"]);
      const password = str(ctx.options.password);
      const checked = userRegistrationSchema.shape.password.safeParse(password);
      if (!checked.success) throw validationError(checked.error, { password }, { "": "--password" });
      const username = ctx.args.USERNAME!;
      const user = await requireUser(ctx, username);
      if (!(await setUserPassword(await ctx.db(), username, await hashPassword(checked.data)))) {
        throw new CliError(`user ${username} not found`);
      }
      const ended = await endUserAccess(ctx, user, true);
      ctx.print(`Password of ${username} changed. ${ended.human}`, { username, password_changed: true, ...ended.data });
      ctx.note(accessTokenWindowNote);
    },
  },

  "user signout": {
    summary: "Sign a user out everywhere: end every browser session; --revoke-tokens also revokes their tokens",
    args: ["USERNAME"],
    usage: "[--revoke-tokens]",
    options: { "revoke-tokens": { type: "boolean" } },
    async run(ctx) {
      const username = ctx.args.USERNAME!;
      const user = await requireUser(ctx, username);
      const tokens = ctx.options["revoke-tokens"] === true;
      const ended = await endUserAccess(ctx, user, tokens);
      ctx.print(`Signed ${username} out everywhere. ${ended.human}`, { username, ...ended.data });
      if (tokens) ctx.note(accessTokenWindowNote);
    },
  },

  "keys generate": {
    summary: "Print a new private JWK set for the SIGNING_KEYS secret",
    usage: `[--alg ${SIGNING_ALGORITHMS.join("|")},...]`,
    details:
      "Default: ES256 (access tokens), RS256 (ID tokens) and EdDSA (ID tokens of clients that pick it). Install it with\n" +
      "  npm run -s admin -- keys generate | npx wrangler secret put SIGNING_KEYS",
    options: { alg: { type: "string", multiple: true } },
    async run(ctx) {
      const algs = list(ctx.options.alg);
      let keySet: { keys: unknown[] };
      if (algs === undefined) {
        keySet = await generateSigningKeySet();
      } else {
        const known = new Set<string>(SIGNING_ALGORITHMS);
        const bad = algs.filter((alg) => !known.has(alg));
        if (bad.length || algs.length === 0) {
          throw new UsageError(`invalid --alg ${bad.join(",")}: expected any of ${SIGNING_ALGORITHMS.join(", ")}`);
        }
        keySet = { keys: await Promise.all(algs.map((alg) => generateSigningKey(alg))) };
      }
      // One line in both modes: ready for `wrangler secret put` and for .dev.vars.
      ctx.out(JSON.stringify(keySet));
      if (!ctx.json) ctx.err("Private keys: store them with `npx wrangler secret put SIGNING_KEYS`, never commit them.");
    },
  },

  "keys list": {
    summary: "Show the keys of a key set (--file, or SIGNING_KEYS in .dev.vars) and which ones sign",
    usage: "[--file KEYS.json]",
    options: { file: { type: "string" } },
    async run(ctx) {
      const set = readKeySet(ctx);
      const signing = signingKids(set);
      const rows = set.keys.map((k) => [k.kid!, k.alg!, signing.includes(k.kid!) ? "signs" : "published"]);
      ctx.print(table(["KID", "ALG", "ROLE"], rows), rows.map(([kid, alg, role]) => ({ kid, alg, role })));
    },
  },

  "keys add": {
    summary: "Step 1 of a rotation: print the key set with a new key, published but not signing yet",
    usage: `--alg ${SIGNING_ALGORITHMS.join("|")} [--file KEYS.json] [--write]`,
    details: keyStepsHelp,
    options: { file: { type: "string" }, alg: { type: "string" }, write: { type: "boolean" } },
    async run(ctx) {
      requireOptions(ctx, ["alg"]);
      const alg = str(ctx.options.alg)!;
      if (!(SIGNING_ALGORITHMS as readonly string[]).includes(alg)) {
        throw new UsageError(`invalid --alg ${alg}: expected any of ${SIGNING_ALGORITHMS.join(", ")}`);
      }
      const { set, kid } = await addKey(readKeySet(ctx), alg);
      const signsAtOnce = signingKids(set).includes(kid);
      writeKeySet(
        ctx,
        set,
        signsAtOnce
          ? `Added ${alg} key ${kid}: the first ${alg} key, so it signs from the next deploy on.`
          : `Added ${alg} key ${kid}: published now, signing after \`keys promote --kid=${kid}\`.`,
        { kid },
      );
    },
  },

  "keys promote": {
    summary: "Step 2: make a key the signing key of its algorithm",
    usage: "--kid=KID [--file KEYS.json] [--write]",
    options: { kid: { type: "string" }, file: { type: "string" }, write: { type: "boolean" } },
    async run(ctx) {
      requireOptions(ctx, ["kid"]);
      const kid = str(ctx.options.kid)!;
      const set = keyStep(() => promoteKey(readKeySet(ctx), kid));
      writeKeySet(ctx, set, `Key ${kid} signs from the next deploy on.`);
    },
  },

  "keys retire": {
    summary: "Step 3: remove a key that no longer signs, once its tokens have expired",
    usage: "--kid=KID [--file KEYS.json] [--write]",
    options: { kid: { type: "string" }, file: { type: "string" }, write: { type: "boolean" } },
    async run(ctx) {
      requireOptions(ctx, ["kid"]);
      const kid = str(ctx.options.kid)!;
      const set = keyStep(() => retireKey(readKeySet(ctx), kid));
      writeKeySet(ctx, set, `Key ${kid} removed.`);
    },
  },

  cleartokens: {
    summary: "Remove expired refresh tokens, code redemption records and stale throttling rows (DOT's cleartokens)",
    async run(ctx) {
      const report = await clearExpired(await ctx.db(), ctx.settings());
      ctx.print(
        `Removed ${report.refreshTokens} refresh tokens, ${report.codeRedemptions} code redemptions, ${report.signInThrottle} throttling rows, ${report.sessions} expired sessions.`,
        report,
      );
    },
  },
};

// ---------------------------------------------------------------------------------------------
// Key sets: read from --file or from SIGNING_KEYS in .dev.vars; printed, or written back with --write.

function devVarsPath(): string {
  return process.env.EOT_DEV_VARS ?? resolve(".dev.vars");
}

function readKeySet(ctx: Context): KeySet {
  const file = str(ctx.options.file);
  try {
    if (file) return parseKeySet(readFileSync(file, "utf8"));
    const line = readFileSync(devVarsPath(), "utf8").split("\n").find((l) => l.startsWith("SIGNING_KEYS="));
    if (!line) throw new CliError("no SIGNING_KEYS in .dev.vars: pass --file KEYS.json");
    return parseKeySet(line.slice("SIGNING_KEYS=".length).replace(/^'|'$/g, ""));
  } catch (error) {
    if (error instanceof KeyRotationError) throw new CliError(error.message);
    if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new CliError(`cannot read ${file ?? devVarsPath()}`);
    throw error;
  }
}

function keyStep(step: () => KeySet): KeySet {
  try {
    return step();
  } catch (error) {
    if (error instanceof KeyRotationError) throw new CliError(error.message);
    throw error;
  }
}

function writeKeySet(ctx: Context, set: KeySet, message: string, extra: Record<string, string> = {}): void {
  const json = JSON.stringify(set);
  if (ctx.options.write !== true) {
    ctx.out(json);
    ctx.err(message);
    return;
  }
  const file = str(ctx.options.file);
  if (file) {
    writeFileSync(file, `${json}\n`, { mode: 0o600 });
  } else {
    const lines = readFileSync(devVarsPath(), "utf8").split("\n");
    const updated = lines.map((l) => (l.startsWith("SIGNING_KEYS=") ? `SIGNING_KEYS='${json}'` : l));
    writeFileSync(devVarsPath(), updated.join("\n"), { mode: 0o600 });
  }
  ctx.print(`${message} Written to ${file ?? devVarsPath()}.`, { written: file ?? devVarsPath(), keys: set.keys.length, ...extra });
}

/** Commands that never touch the database (no migrations, no wrangler start). */
const NO_DATABASE = new Set(["keys generate", "keys list", "keys add", "keys promote", "keys retire"]);

// ---------------------------------------------------------------------------------------------
// Usage text and the entry point.

function commandUsage(name: string): string {
  const command = commands[name]!;
  const parts = [name, ...(command.args ?? []), command.usage ?? ""].filter(Boolean).join(" ");
  return `npm run admin -- ${parts} [--json]`;
}

function usage(filter?: string): string {
  const names = Object.keys(commands).filter((name) => !filter || name === filter || name.startsWith(`${filter} `));
  const lines = names.map((name) => {
    const command = commands[name]!;
    const head = [name, ...(command.args ?? []), command.usage ?? ""].filter(Boolean).join(" ");
    return `  ${head}\n      ${command.summary}${command.details ? `\n      ${command.details.replace(/\n/g, "\n      ")}` : ""}`;
  });
  return [
    "Usage: npm run admin -- <command> [options]",
    "",
    "Commands:",
    ...lines,
    "  help [COMMAND]",
    "      Show this text, or one command's",
    "",
    "Options for every command:",
    "  --json              Machine-readable output",
    "  --persist-to DIR    Local state directory, as wrangler's flag (default .wrangler/state)",
    "  --remote            Act on the deployed D1 database (wrangler d1 execute --remote)",
    "  -h, --help          Show help",
    "",
    "Exit codes: 0 success, 1 failure or not found, 2 usage error.",
  ].join("\n");
}

function findCommand(words: string[]): string | undefined {
  if (words.length >= 2 && commands[`${words[0]} ${words[1]}`]) return `${words[0]} ${words[1]}`;
  if (words.length >= 1 && commands[words[0]!]) return words[0];
  return undefined;
}

function isGroup(word: string | undefined): boolean {
  return word !== undefined && Object.keys(commands).some((name) => name.startsWith(`${word} `));
}

/** An error's message and those of its causes (Drizzle wraps driver errors); the stack with DEBUG set. */
function describeError(error: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = error; e !== undefined && parts.length < 5; e = (e as { cause?: unknown }).cause) {
    parts.push(e instanceof Error ? (process.env.DEBUG ? (e.stack ?? e.message) : e.message) : String(e));
    if (!(e instanceof Error)) break;
  }
  return parts.join("\n  caused by: ");
}

export type Output = { out: (text: string) => void; err: (text: string) => void };
const stdio: Output = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
};

export interface MainOptions {
  /** Opens the local database of a state directory (default: `openLocalDatabase`); tests share one per directory. */
  openLocal?: (stateDir: string) => Promise<LocalDatabase>;
}

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[], io: Output = stdio, options: MainOptions = {}): Promise<number> {
  const allOptions: Record<string, OptionSpec> = { ...GLOBAL_OPTIONS };
  for (const command of Object.values(commands)) Object.assign(allOptions, command.options);
  // First pass, lenient: only to find the command words among the arguments.
  const loose = parseArgs({ args: argv, options: allOptions, strict: false, allowPositionals: true });
  const words = loose.positionals;
  const wantsHelp = loose.values.help === true;

  if (words[0] === "help" || (words.length === 0 && wantsHelp)) {
    const topic = words.slice(1);
    const name = findCommand(topic);
    if (topic.length && !name && !isGroup(topic[0])) {
      io.err(`error: unknown command "${topic.join(" ")}"\n\n${usage()}`);
      return 2;
    }
    io.out(name ? `Usage: ${commandUsage(name)}\n\n${commands[name]!.summary}` + (commands[name]!.details ? `\n${commands[name]!.details}` : "") : usage(topic[0]));
    return 0;
  }
  const name = findCommand(words);
  if (!name) {
    if (wantsHelp && isGroup(words[0]) && words.length === 1) {
      io.out(usage(words[0]));
      return 0;
    }
    const problem =
      words.length === 0
        ? "no command given"
        : isGroup(words[0]) && words.length === 1
          ? `"${words[0]}" needs a subcommand`
          : `unknown command "${words.slice(0, 2).join(" ")}"`;
    io.err(`error: ${problem}\n\n${usage(isGroup(words[0]) ? words[0] : undefined)}`);
    return 2;
  }
  const command = commands[name]!;
  if (wantsHelp) {
    io.out(`Usage: ${commandUsage(name)}\n\n${command.summary}` + (command.details ? `\n${command.details}` : ""));
    return 0;
  }

  let dispose: (() => Promise<void>) | undefined;
  try {
    let parsed;
    try {
      parsed = parseArgs({
        args: argv,
        options: { ...GLOBAL_OPTIONS, ...command.options },
        strict: true,
        allowPositionals: true,
      });
    } catch (error) {
      if ((error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) throw new UsageError((error as Error).message);
      throw error;
    }
    const nameWords = name.split(" ").length;
    const rest = parsed.positionals.slice(nameWords);
    const expected = command.args ?? [];
    if (rest.length < expected.length) throw new UsageError(`missing ${expected.slice(rest.length).join(" ")}`);
    if (rest.length > expected.length) throw new UsageError(`unexpected argument "${rest[expected.length]}"`);
    const values = parsed.values as OptionValues;
    if (values.remote && values["persist-to"] !== undefined) {
      throw new UsageError("--remote and --persist-to exclude each other");
    }
    const json = values.json === true;
    const stateDir = resolve(str(values["persist-to"]) ?? DEFAULT_STATE_DIR);

    let db: Promise<Database> | undefined;
    let localKv: KVNamespace | undefined;
    const ctx: Context = {
      options: values,
      args: Object.fromEntries(expected.map((argName, i) => [argName, rest[i]!])),
      json,
      db() {
        if (NO_DATABASE.has(name)) throw new Error(`${name} does not use the database`);
        db ??= (async () => {
          if (values.remote) {
            const { openRemoteDatabase } = await import("./lib/remote-db");
            io.err("Acting on the REMOTE (deployed) database.");
            return openRemoteDatabase();
          }
          const open = options.openLocal ?? (await import("./lib/local-db")).openLocalDatabase;
          const local = await open(stateDir);
          dispose = local.dispose;
          localKv = local.kv;
          return local.db;
        })();
        return db;
      },
      async kv() {
        if (values.remote) return remoteKv();
        await ctx.db();
        return localKv!;
      },
      settings: () => parseSettings({ ...wranglerVars(), ...process.env }),
      print(human, data) {
        io.out(json ? JSON.stringify(data, null, 2) : human);
      },
      note(text) {
        (json ? io.err : io.out)(text);
      },
      out: io.out,
      err: io.err,
    };
    await command.run(ctx);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`error: ${error.message}\n\nUsage: ${commandUsage(name)}\nRun "npm run admin -- help ${name}" for details.`);
      return 2;
    }
    if (error instanceof CliError) {
      io.err(`error: ${error.message}`);
      return error.exitCode;
    }
    // Anything else (a failed migration, a D1 or wrangler error): its message and causes, exit 1.
    io.err(`error: ${describeError(error)}`);
    return 1;
  } finally {
    await dispose?.();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  // Caches V8's compilation of wrangler's large bundle between runs (Node's own cache directory).
  module.enableCompileCache?.();
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}

/** The deployed KV namespace, written through `wrangler kv key put --remote` (needs a Cloudflare login). */
function remoteKv(): Pick<KVNamespace, "put"> {
  return {
    async put(key: string, value: unknown, options?: { expirationTtl?: number }) {
      const args = ["kv", "key", "put", "--binding", "KV", "--remote", key, String(value)];
      if (options?.expirationTtl) args.push("--ttl", String(options.expirationTtl));
      const result = await runWrangler(args);
      if (result.code !== 0) throw new CliError(`wrangler kv key put failed: ${(result.stderr || result.stdout).trim()}`);
    },
  } as Pick<KVNamespace, "put">;
}
