/** The "initial-token ..." commands: the tokens that allow registering a client when DYNAMIC_REGISTRATION=token. */
import {
  createInitialAccessToken,
  initialTokenId,
  initialTokenState,
  listInitialAccessTokens,
  revokeInitialAccessToken,
} from "../../src/db/initial-access-tokens";
import type { InitialAccessToken } from "../../src/db/schema";
import { CliError, str, UsageError, type Command, type Context, type OptionValues } from "./context";
import { fields, isoTime, tableOr } from "./output";

const MAX_USES = 1_000_000;
/** Ten years: a longer-lived token is better made without an expiry, on purpose. */
const MAX_EXPIRES_IN = 10 * 365 * 24 * 3600;
const MAX_NOTE = 200;

/** A whole number from 1 to `max`, or undefined when the option is absent. */
function positiveInteger(value: OptionValues[string], flag: string, max: number): number | undefined {
  if (value === undefined) return undefined;
  const text = typeof value === "string" ? value : "";
  if (!/^\d{1,10}$/.test(text) || Number(text) < 1 || Number(text) > max) {
    throw new UsageError(`invalid ${flag}: a whole number from 1 to ${max}`);
  }
  return Number(text);
}

function tokenJson(row: InitialAccessToken) {
  return {
    id: initialTokenId(row),
    note: row.note,
    uses_left: row.usesLeft,
    expires_at: row.expiresAt === null ? null : isoTime(row.expiresAt),
    state: initialTokenState(row),
    created_at: isoTime(row.createdAt),
  };
}

const usesText = (row: InitialAccessToken) => (row.usesLeft === null ? "unlimited" : String(row.usesLeft));
const expiryText = (row: InitialAccessToken) => (row.expiresAt === null ? "never" : isoTime(row.expiresAt));

/** Said when the token would not be asked for: registration is off, or open to anyone. */
function modeNote(ctx: Context): void {
  const mode = ctx.settings().DYNAMIC_REGISTRATION;
  if (mode !== "token") {
    ctx.note(`DYNAMIC_REGISTRATION is "${mode}" here: registration asks for initial access tokens only when it is "token".`);
  }
}

export const initialTokenCommands: Record<string, Command> = {
  "initial-token create": {
    summary: "Issue an initial access token for dynamic client registration (RFC 7591); prints it once",
    usage: "[--uses N] [--expires-in SECONDS] [--note TEXT]",
    details:
      "With DYNAMIC_REGISTRATION=token, a client registers at {basePath}/register/ with `Authorization: Bearer TOKEN`.\n" +
      "Each registration spends a use (default: unlimited); the token stops at --expires-in (default: never).\n" +
      "Only its hash is stored: list and revoke it by its short id, the start of that hash.",
    options: { uses: { type: "string" }, "expires-in": { type: "string" }, note: { type: "string" } },
    async run(ctx) {
      const uses = positiveInteger(ctx.options.uses, "--uses", MAX_USES);
      const expiresInSeconds = positiveInteger(ctx.options["expires-in"], "--expires-in", MAX_EXPIRES_IN);
      const note = str(ctx.options.note) ?? "";
      if (note.length > MAX_NOTE) throw new UsageError(`invalid --note: at most ${MAX_NOTE} characters`);
      const { token, row } = await createInitialAccessToken(await ctx.db(), { uses, expiresInSeconds, note });
      ctx.print(
        `Created initial access token ${initialTokenId(row)}, shown only now:\n  ${token}\n` +
          fields([
            ["uses", usesText(row)],
            ["expires", expiryText(row)],
            ["note", row.note || "(none)"],
          ]),
        { ...tokenJson(row), token },
      );
      modeNote(ctx);
    },
  },

  "initial-token list": {
    summary: "List initial access tokens (their short ids, never the tokens)",
    async run(ctx) {
      const rows = await listInitialAccessTokens(await ctx.db());
      ctx.print(
        tableOr(
          "No initial access tokens.",
          ["ID", "STATE", "USES LEFT", "EXPIRES", "NOTE"],
          rows.map((row) => [initialTokenId(row), initialTokenState(row), usesText(row), expiryText(row), row.note]),
        ),
        rows.map(tokenJson),
      );
    },
  },

  "initial-token revoke": {
    summary: "Revoke an initial access token by its short id: it registers no more clients (those it registered stay)",
    args: ["ID"],
    async run(ctx) {
      const id = ctx.args.ID!;
      if (!/^[0-9a-f]{12}$/i.test(id)) throw new UsageError('invalid ID: the 12 hexadecimal characters "initial-token list" shows');
      const result = await revokeInitialAccessToken(await ctx.db(), id);
      if (result === "not_found") throw new CliError(`initial access token ${id} not found`);
      if (result === "ambiguous") throw new CliError(`more than one initial access token has the id ${id}`);
      ctx.print(`Revoked initial access token ${id}.`, { id, revoked: true });
    },
  },
};
