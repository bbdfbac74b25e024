/**
 * The admin CLI's entry: the command table (merged from the command groups), argument parsing,
 * usage texts and error handling. `scripts/admin.ts` runs `main` when executed as a script.
 * Exit codes: 0 success, 1 failure or not found, 2 usage error.
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import type { Database } from "../../src/db/index";
import { parseSettings } from "../../src/core/settings";
import type { LocalDatabase } from "../lib/local-db";
import { DEFAULT_STATE_DIR, runWrangler, wranglerVars } from "../lib/project";
import { RemoteDatabaseError } from "../lib/remote-db";
import { clientCommands } from "./clients";
import { CliError, str, UsageError, type Command, type Context, type OptionSpec, type OptionValues } from "./context";
import { databaseKeyCommands } from "./db-keys";
import { eventCommands } from "./events";
import { initialTokenCommands } from "./initial-tokens";
import { keyCommands } from "./keys";
import { tokenCommands } from "./tokens";
import { userCommands } from "./users";

export { CliError, UsageError };

/** Every command, by name; `help` lists them in this order. Adding a command is adding an entry to its group. */
export const commands: Record<string, Command> = { ...clientCommands, ...initialTokenCommands, ...userCommands, ...keyCommands, ...databaseKeyCommands, ...tokenCommands, ...eventCommands };

/** Commands that never touch the database (no migrations, no wrangler start); the db-keys commands do. */
const NO_DATABASE = new Set(Object.keys(keyCommands));

const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  json: { type: "boolean" },
  "persist-to": { type: "string" },
  remote: { type: "boolean" },
  help: { type: "boolean", short: "h" },
};

function commandUsage(name: string): string {
  const command = commands[name]!;
  const parts = [name, ...(command.args ?? []), command.usage ?? ""].filter(Boolean).join(" ");
  return `npm run admin -- ${parts} [--json]`;
}

/** `help COMMAND`: its usage line, summary and details. */
function commandHelp(name: string): string {
  const command = commands[name]!;
  return `Usage: ${commandUsage(name)}\n\n${command.summary}` + (command.details ? `\n${command.details}` : "");
}

/** The commands named `filter` or in its group; all without one. */
function commandsIn(filter?: string): string[] {
  return Object.keys(commands).filter((name) => !filter || name === filter || name.startsWith(`${filter} `));
}

function usage(filter?: string): string {
  const names = commandsIn(filter);
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
    "  --json              Machine-readable output: stdout is exactly one JSON document. On an error it is",
    '                      {"error": {"message": "...", "exit_code": 1 or 2}} (the message also goes to stderr)',
    "  --persist-to DIR    Local state directory, as wrangler's flag (default .wrangler/state)",
    "  --remote            Act on the deployed D1 database through D1's HTTP API, with CLOUDFLARE_ACCOUNT_ID and",
    "                      CLOUDFLARE_API_TOKEN from the environment (CLOUDFLARE_API_BASE_URL to change the API's URL)",
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

/** `help --json`: the commands' names, arguments, usage lines and texts. */
function helpJson(names: string[]) {
  return {
    commands: names.map((name) => {
      const { summary, details, args = [] } = commands[name]!;
      return { name, args, usage: commandUsage(name), summary, ...(details ? { details } : {}) };
    }),
  };
}

/** The first error among `error` and its causes that is meant to be shown as a plain message. */
function plainError(error: unknown): CliError | RemoteDatabaseError | undefined {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof CliError || e instanceof RemoteDatabaseError) return e;
  }
  return undefined;
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

/**
 * Reports a failure and returns its exit code: the message (and any usage text) on stderr, and with
 * --json also `{"error": {"message", "exit_code"}}` on stdout, so stdout is one JSON document either way.
 */
function fail(io: Output, json: boolean, exitCode: number, message: string, usageText?: string): number {
  io.err(`error: ${message}${usageText ? `\n\n${usageText}` : ""}`);
  if (json) io.out(JSON.stringify({ error: { message, exit_code: exitCode } }, null, 2));
  return exitCode;
}

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[], io: Output = stdio, options: MainOptions = {}): Promise<number> {
  const allOptions: Record<string, OptionSpec> = { ...GLOBAL_OPTIONS };
  for (const command of Object.values(commands)) Object.assign(allOptions, command.options);
  // First pass, lenient: only to find the command words among the arguments.
  const loose = parseArgs({ args: argv, options: allOptions, strict: false, allowPositionals: true });
  const words = loose.positionals;
  const wantsHelp = loose.values.help === true;
  const wantsJson = loose.values.json === true;
  const showHelp = (names: string[], text: string) => {
    io.out(wantsJson ? JSON.stringify(helpJson(names), null, 2) : text);
    return 0;
  };

  if (words[0] === "help" || (words.length === 0 && wantsHelp)) {
    const topic = words.slice(1);
    const name = findCommand(topic);
    if (topic.length && !name && !isGroup(topic[0])) return fail(io, wantsJson, 2, `unknown command "${topic.join(" ")}"`, usage());
    return name ? showHelp([name], commandHelp(name)) : showHelp(commandsIn(topic[0]), usage(topic[0]));
  }
  const name = findCommand(words);
  if (!name) {
    if (wantsHelp && isGroup(words[0]) && words.length === 1) return showHelp(commandsIn(words[0]), usage(words[0]));
    const problem =
      words.length === 0
        ? "no command given"
        : isGroup(words[0]) && words.length === 1
          ? `"${words[0]}" needs a subcommand`
          : `unknown command "${words.slice(0, 2).join(" ")}"`;
    return fail(io, wantsJson, 2, problem, usage(isGroup(words[0]) ? words[0] : undefined));
  }
  const command = commands[name]!;
  if (wantsHelp) return showHelp([name], commandHelp(name));

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
            const { openRemoteDatabase } = await import("../lib/remote-db");
            const remote = openRemoteDatabase();
            io.err("Acting on the REMOTE (deployed) database.");
            return remote;
          }
          const open = options.openLocal ?? (await import("../lib/local-db")).openLocalDatabase;
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
      return fail(io, wantsJson, 2, error.message, `Usage: ${commandUsage(name)}\nRun "npm run admin -- help ${name}" for details.`);
    }
    // A CliError, or the remote database's own (Drizzle wraps them): just the message.
    const plain = plainError(error);
    if (plain) return fail(io, wantsJson, plain instanceof CliError ? plain.exitCode : 1, plain.message);
    // Anything else (a failed migration, a local D1 or wrangler error): its message and causes, exit 1.
    return fail(io, wantsJson, 1, describeError(error));
  } finally {
    await dispose?.();
  }
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
