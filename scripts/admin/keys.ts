/**
 * The "keys ..." commands: generate a signing key set, list it, and rotate keys (add, promote, retire).
 * They never touch the database. Key sets: read from --file or from SIGNING_KEYS in .dev.vars;
 * printed, or written back with --write.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { SIGNING_ALGORITHMS } from "../../src/core/protocol";
import { generateSigningKey, generateSigningKeySet } from "../../src/tokens/generate-keys";
import { addKey, KeyRotationError, parseKeySet, promoteKey, retireKey, signingKids, type KeySet } from "../../src/tokens/key-rotation";
import { CliError, list, requireOptions, str, UsageError, type Command, type Context } from "./context";
import { devVarIn, devVarsPath } from "./dev-vars";
import { table } from "./output";

const keyStepsHelp =
  "Rotation is add-then-retire (docs/keys.md): add, deploy, wait for JWKS caches (6 min) and relying\n" +
  "parties; promote, deploy; after the longest token lifetime, retire, deploy. Deployed:\n" +
  "  npm run -s admin -- keys add --alg RS256 --file keys.json > next.json\n" +
  "  npx wrangler secret put SIGNING_KEYS < next.json";

export const keyCommands: Record<string, Command> = {
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

  "keys promote": stepOnOneKey("Step 2: make a key the signing key of its algorithm", promoteKey, (kid) => `Key ${kid} signs from the next deploy on.`),

  "keys retire": stepOnOneKey("Step 3: remove a key that no longer signs, once its tokens have expired", retireKey, (kid) => `Key ${kid} removed.`),
};

/** A rotation step on the key named by `--kid`: promote or retire. */
function stepOnOneKey(summary: string, step: (set: KeySet, kid: string) => KeySet, done: (kid: string) => string): Command {
  return {
    summary,
    usage: "--kid=KID [--file KEYS.json] [--write]",
    options: { kid: { type: "string" }, file: { type: "string" }, write: { type: "boolean" } },
    async run(ctx) {
      requireOptions(ctx, ["kid"]);
      const kid = str(ctx.options.kid)!;
      writeKeySet(ctx, keyStep(() => step(readKeySet(ctx), kid)), done(kid));
    },
  };
}

function readKeySet(ctx: Context): KeySet {
  const file = str(ctx.options.file);
  try {
    if (file) return parseKeySet(readFileSync(file, "utf8"));
    const value = devVarIn(readFileSync(devVarsPath(), "utf8"), "SIGNING_KEYS");
    if (value === undefined) throw new CliError("no SIGNING_KEYS in .dev.vars: pass --file KEYS.json");
    return parseKeySet(value);
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
