/**
 * The "user ..." commands: create, list, disable, enable users; set passwords; sign users out;
 * list and revoke what a user authorized (the authorized-tokens page's list and Revoke button).
 */
import { hashPassword } from "../../src/core/crypto";
import { registerUser, userRegistrationSchema } from "../../src/db/registration";
import type { User } from "../../src/db/schema";
import { deleteUserSessions } from "../../src/db/sessions";
import { findUserByUsername, listUsers, setUserActive, setUserPassword } from "../../src/db/users";
import { revokeUserTokens } from "../../src/tokens/revocation";
import { listAuthorizations, type Authorization } from "../../src/db/authorizations";
import { findClient } from "../../src/db/clients";
import { revokeAuthorization } from "../../src/tokens/authorizations";
import { nowSeconds } from "../../src/core/time";
import { CliError, parseJsonOption, requireOptions, str, validationError, type Command, type Context } from "./context";
import { accessTokenWindowNote, fields, isoTime, tableOr } from "./output";

const USER_FLAGS: Record<string, string> = { username: "--username", password: "--password", email: "--email", claims: "--claims" };

function userJson(user: User) {
  return {
    id: user.id,
    username: user.username,
    email: user.email,
    is_active: user.isActive,
    created_at: isoTime(user.createdAt),
  };
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

function authorizationJson(authorization: Authorization) {
  return {
    client_id: authorization.clientId,
    client_name: authorization.clientName,
    scope: authorization.scopes.join(" "),
    authorized_at: isoTime(authorization.authorizedAt),
    tokens_last_issued_at: authorization.lastIssuedAt === null ? null : isoTime(authorization.lastIssuedAt),
    live_refresh_tokens: authorization.liveRefreshTokens,
  };
}

export const userCommands: Record<string, Command> = {
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
        tableOr("No users.", ["USERNAME", "ACTIVE", "EMAIL", "ID"], users.map((u) => [u.username, u.isActive ? "yes" : "no", u.email ?? "", u.id])),
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

  "user authorizations": {
    summary: "List the applications a user has authorized (their authorized-tokens page)",
    args: ["USERNAME"],
    async run(ctx) {
      const user = await requireUser(ctx, ctx.args.USERNAME!);
      const authorizations = await listAuthorizations(await ctx.db(), user.id, nowSeconds());
      ctx.print(
        tableOr(
          `${user.username} has authorized no application.`,
          ["CLIENT_ID", "NAME", "SCOPE", "AUTHORIZED", "TOKENS LAST ISSUED"],
          authorizations.map((a) => [
            a.clientId,
            a.clientName,
            a.scopes.join(" "),
            isoTime(a.authorizedAt),
            a.lastIssuedAt === null ? "" : isoTime(a.lastIssuedAt),
          ]),
        ),
        authorizations.map(authorizationJson),
      );
    },
  },

  "user revoke-authorization": {
    summary: "Revoke a user's tokens of one client and forget their consent (the authorized-tokens page's Revoke)",
    args: ["USERNAME", "CLIENT_ID"],
    details: "Also covers access tokens of grants without a refresh token, and works when nothing is recorded (then only that).",
    async run(ctx) {
      const user = await requireUser(ctx, ctx.args.USERNAME!);
      const clientId = ctx.args.CLIENT_ID!;
      const db = await ctx.db();
      if (!(await findClient(db, clientId))) throw new CliError(`client ${clientId} not found`);
      const revoked = await revokeAuthorization({ db, kv: await ctx.kv() }, user.id, clientId, ctx.settings());
      ctx.print(
        `Revoked ${user.username}'s tokens of ${clientId} (${revoked.refreshGrants} grants with refresh tokens)${revoked.consentForgotten ? " and forgot the consent" : ""}.`,
        { username: user.username, client_id: clientId, refresh_grants_revoked: revoked.refreshGrants, consent_forgotten: revoked.consentForgotten, access_tokens_revoked_before: new Date().toISOString() },
      );
      ctx.note(accessTokenWindowNote);
    },
  },
};
