/**
 * The local secrets file `npm start` writes (`.dev.vars`, or EOT_DEV_VARS): where the CLI finds
 * SIGNING_KEYS and SECRET_KEY when neither a file nor the environment gives them.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { CliError, type Context } from "./context";

export const devVarsPath = () => process.env.EOT_DEV_VARS ?? resolve(".dev.vars");

/** The value of a `NAME='value'` line of a .dev.vars text, if it has one. */
export function devVarIn(text: string, name: string): string | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${name}=`));
  return line?.slice(name.length + 1).replace(/^'|'$/g, "");
}

/** A variable of .dev.vars, if the file and the line are there. */
export function devVar(name: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(devVarsPath(), "utf8");
  } catch {
    return undefined;
  }
  return devVarIn(text, name);
}

/** SECRET_KEY from the environment (the deployed Worker's secret), else from .dev.vars; undefined when neither has it. */
export const secretKeyIfAny = (ctx: Context): string | undefined => ctx.settings().SECRET_KEY ?? devVar("SECRET_KEY");

/** SECRET_KEY, or a CLI error saying where to put it. */
export function secretKey(ctx: Context): string {
  const secret = secretKeyIfAny(ctx);
  if (!secret) throw new CliError("no SECRET_KEY: set it in the environment (the deployed Worker's secret), or run `npm start` once to write .dev.vars");
  return secret;
}
