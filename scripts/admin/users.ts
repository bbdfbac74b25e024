/**
 * The "user ..." commands: create, list, disable, enable users; set passwords; sign users out;
 * list and revoke what a user authorized (the authorized-tokens page's list and Revoke button).
 */
import { registerUser, userRegistrationSchema } from "../../src/db/registration";
import type { User } from "../../src/db/schema";
import { findUserByUsername, listUsers, setUserActive, setUserOperator } from "../../src/db/users";
import { changeUserPassword, disableUser, endUserAccess, type AccessEnded } from "../../src/tokens/operator-actions";
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
    is_operator: user.isOperator,
    created_at: isoTime(user.createdAt),
  };
}

function userText(user: User): string {
  return fields([
    ["id", user.id],
    ["username", user.username],
    ["email", user.email ?? "(none)"],
    ["active", user.isActive ? "yes" : "no"],
    ["operator", user.isOperator ? "yes" : "no"],
    ["created", isoTime(user.createdAt)],
  ]);
}

async function requireUser(ctx: Context, username: string): Promise<User> {
  const user = await findUserByUsername(await ctx.db(), username);
  if (!user) throw new CliError(`user ${username} not found`);
  return user;
}

/** The CLI's words for what ending a user's access did. */
function endedText(ended: AccessEnded) {
  const sessions = `${ended.sessionsEnded} browser sessions`;
  if (ended.refreshTokensRevoked === undefined) return { human: `Ended ${sessions}.`, data: { sessions_ended: ended.sessionsEnded } };
  return {
    human: `Ended ${sessions}; revoked ${ended.refreshTokensRevoked} refresh tokens and every access token issued until now.`,
    data: { sessions_ended: ended.sessionsEnded, refresh_tokens_revoked: ended.refreshTokensRevoked, access_tokens_revoked_before: new Date().toISOString() },
  };
}

const storesOf = async (ctx: Context) => ({ db: await ctx.db(), kv: await ctx.kv() });

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

/** Gives or takes the operator role: the console reads it on every request, so it applies at once. */
function operatorCommand(operator: boolean): Command {
  return {
    summary: operator
      ? "Let a user use the operator console ({basePath}/admin/, when OPERATOR_CONSOLE is on)"
      : "Take the operator role from a user (the console refuses them from their next request)",
    args: ["USERNAME"],
    async run(ctx) {
      const username = ctx.args.USERNAME!;
      if (!(await setUserOperator(await ctx.db(), username, operator))) throw new CliError(`user ${username} not found`);
      ctx.print(`${username} ${operator ? "is now an operator" : "is no longer an operator"}.`, { username, is_operator: operator });
    },
  };
}

export const userCommands: Record<string, Command> = {
  "user create": {
    summary: "Create a user who can sign in at the authorization endpoint",
    usage: "--username NAME --password PASS [--email EMAIL] [--claims JSON] [--operator]",
    details:
      'OpenID Connect claims as JSON, e.g. --claims \'{"name": "Ada Lovelace", "email_verified": true}\'\n' +
      "--operator: the user may use the operator console ({basePath}/admin/, when OPERATOR_CONSOLE is on).",
    options: {
      username: { type: "string" },
      password: { type: "string" },
      email: { type: "string" },
      claims: { type: "string" },
      operator: { type: "boolean" },
    },
    async run(ctx) {
      requireOptions(ctx, ["username", "password"]);
      const input = {
        username: str(ctx.options.username),
        password: str(ctx.options.password),
        email: str(ctx.options.email),
        claims: parseJsonOption(str(ctx.options.claims), "--claims"),
        operator: ctx.options.operator === true,
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
        tableOr(
          "No users.",
          ["USERNAME", "ACTIVE", "OPERATOR", "EMAIL", "ID"],
          users.map((u) => [u.username, u.isActive ? "yes" : "no", u.isOperator ? "yes" : "no", u.email ?? "", u.id]),
        ),
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
      const disabled = await disableUser(await storesOf(ctx), user, ctx.settings());
      if (!disabled) throw new CliError(`user ${username} not found`);
      const ended = endedText(disabled);
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

  "user grant-operator": operatorCommand(true),
  "user revoke-operator": operatorCommand(false),

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
      const changed = await changeUserPassword(await storesOf(ctx), user, checked.data, ctx.settings());
      if (!changed) throw new CliError(`user ${username} not found`);
      const ended = endedText(changed);
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
      const ended = endedText(await endUserAccess(await storesOf(ctx), user.id, ctx.settings(), tokens));
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
