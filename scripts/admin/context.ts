/**
 * What every admin command shares: the context it runs with, its errors (exit codes 2 and 1) and the
 * helpers that read its options.
 */
import type { core } from "zod/mini";
import type { Database } from "../../src/db/index";
import type { Settings } from "../../src/core/settings";

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

export type OptionSpec = { type: "string" | "boolean"; multiple?: boolean; short?: string };
export type OptionValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

export interface Context {
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

export interface Command {
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

/** Comma-separated (and/or repeated) list option → trimmed, non-empty items. */
export function list(value: OptionValues[string]): string[] | undefined {
  if (value === undefined) return undefined;
  const parts = (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === "string");
  return parts.flatMap((part) => part.split(",")).map((s) => s.trim()).filter(Boolean);
}

export function parseJsonOption(value: string | undefined, flag: string): unknown {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value);
  } catch {
    throw new UsageError(`invalid ${flag}: not JSON`);
  }
}

export function str(value: OptionValues[string]): string | undefined {
  return typeof value === "string" ? value : undefined;
}

export function requireOptions(ctx: Context, names: string[]): void {
  const missing = names.filter((name) => ctx.options[name] === undefined);
  if (missing.length) throw new UsageError(`missing required option ${missing.map((n) => `--${n}`).join(", ")}`);
}

/** A zod error as one line per problem, naming the command-line option (`flags` maps field → option). */
export function validationError(error: core.$ZodError, input: object, flags: Record<string, string>): UsageError {
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
