/**
 * The "db-keys ..." commands: signing keys kept in D1 (DATABASE_SIGNING_KEYS), what the operator
 * console's keys page does: list, add, promote, retire (docs/keys.md). Adding seals the private key
 * under SECRET_KEY: from the environment, else from .dev.vars (locally).
 */
import { SIGNING_ALGORITHMS } from "../../src/core/protocol";
import type { SigningKeyRow } from "../../src/db/schema";
import { listAllSigningKeys } from "../../src/db/signing-keys";
import {
  addDatabaseKey,
  databaseKeyRoles,
  KeyChangeRefused,
  longestSignedLifetime,
  promoteDatabaseKey,
  PROMOTION_DELAY_SECONDS,
  promotionTime,
  retireDatabaseKey,
  retirableFrom,
  type KeyRole,
} from "../../src/tokens/database-keys";
import { CliError, requireOptions, str, UsageError, type Command, type Context } from "./context";
import { devVar, secretKey, secretKeyIfAny } from "./dev-vars";
import { isoTime, tableOr } from "./output";

/** The kids of the SIGNING_KEYS secret, when .dev.vars has it (to name them in a refusal). */
function secretKids(): string[] {
  const set = devVar("SIGNING_KEYS");
  if (!set) return [];
  try {
    return ((JSON.parse(set) as { keys?: { kid?: string }[] }).keys ?? []).flatMap((k) => (k.kid ? [k.kid] : []));
  } catch {
    return [];
  }
}

async function refusedAsError<T>(step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    if (err instanceof KeyChangeRefused) throw new CliError(err.message);
    throw err;
  }
}

function kidOption(ctx: Context): string {
  requireOptions(ctx, ["kid"]);
  return str(ctx.options.kid)!;
}

function roleText(role: KeyRole, lifetime: number): string {
  switch (role.role) {
    case "scheduled":
      return `signs from ${isoTime(role.signsFrom)}`;
    case "signed":
      return `signed until ${isoTime(role.signedUntil)}, retirable from ${isoTime(retirableFrom(role.signedUntil, lifetime))}`;
    case "retired":
      return `retired ${isoTime(role.retiredAt)}`;
    default:
      return role.role;
  }
}

function rowJson(row: SigningKeyRow, role: KeyRole, lifetime: number) {
  return {
    kid: row.kid,
    alg: row.alg,
    role: role.role,
    created_at: isoTime(row.createdAt),
    signs_from: row.signsFrom === null ? null : isoTime(row.signsFrom),
    retired_at: row.retiredAt === null ? null : isoTime(row.retiredAt),
    ...(role.role === "signed" ? { signed_until: isoTime(role.signedUntil), retirable_from: isoTime(retirableFrom(role.signedUntil, lifetime)) } : {}),
  };
}

const RULES =
  "With DATABASE_SIGNING_KEYS on, the ring is the SIGNING_KEYS secret's keys plus these. Of each algorithm, the database key\n" +
  `promoted last signs once its time has come, else the secret's first key. A key signs at the earliest ${PROMOTION_DELAY_SECONDS} s after it was\n` +
  "added; it is retired only when it does not sign and the longest token lifetime has passed since its last token.";

export const databaseKeyCommands: Record<string, Command> = {
  "db-keys list": {
    summary: "List the signing keys kept in the database (DATABASE_SIGNING_KEYS) and what each does: the console's keys page",
    details: RULES,
    async run(ctx) {
      const lifetime = longestSignedLifetime(ctx.settings());
      const rows = await listAllSigningKeys(await ctx.db());
      const roles = databaseKeyRoles(rows);
      ctx.print(
        tableOr(
          "No keys in the database.",
          ["KID", "ALG", "ROLE", "ADDED"],
          rows.map((row) => [row.kid, row.alg, roleText(roles.get(row.kid)!, lifetime), isoTime(row.createdAt)]),
        ),
        rows.map((row) => rowJson(row, roles.get(row.kid)!, lifetime)),
      );
    },
  },

  "db-keys add": {
    summary: "Add a signing key to the database: published at once, signing once promoted",
    usage: `--alg ${SIGNING_ALGORITHMS.join("|")}`,
    details: RULES,
    options: { alg: { type: "string" } },
    async run(ctx) {
      requireOptions(ctx, ["alg"]);
      const alg = str(ctx.options.alg)!;
      if (!(SIGNING_ALGORITHMS as readonly string[]).includes(alg)) {
        throw new UsageError(`invalid --alg ${alg}: expected any of ${SIGNING_ALGORITHMS.join(", ")}`);
      }
      const secret = secretKey(ctx);
      const row = await addDatabaseKey(await ctx.db(), secret, alg);
      const earliest = promotionTime(row, row.createdAt);
      ctx.print(
        `Added ${alg} key ${row.kid}: published now; \`db-keys promote --kid=${row.kid}\` makes it sign, at the earliest from ${isoTime(earliest)}.`,
        { kid: row.kid, alg, created_at: isoTime(row.createdAt), earliest_signs_from: isoTime(earliest) },
      );
    },
  },

  "db-keys promote": {
    summary: "Make a database key the signing key of its algorithm, from max(now, added + the JWKS caches' time)",
    usage: "--kid=KID",
    details: RULES,
    options: { kid: { type: "string" } },
    async run(ctx) {
      const kid = kidOption(ctx);
      const db = await ctx.db();
      // With SECRET_KEY at hand (environment or .dev.vars), a key sealed under another one is refused.
      const secret = secretKeyIfAny(ctx);
      const row = await refusedAsError(() => promoteDatabaseKey(db, kid, { secretKids: secretKids(), ...(secret ? { secret } : {}) }));
      ctx.print(`Key ${kid} signs ${row.alg} tokens from ${isoTime(row.signsFrom!)}.`, { kid, alg: row.alg, signs_from: isoTime(row.signsFrom!) });
    },
  },

  "db-keys retire": {
    summary: "Retire a database key that no longer signs, once its tokens have expired: it leaves the JWKS",
    usage: "--kid=KID",
    details: RULES,
    options: { kid: { type: "string" } },
    async run(ctx) {
      const kid = kidOption(ctx);
      const lifetime = longestSignedLifetime(ctx.settings());
      const db = await ctx.db();
      const row = await refusedAsError(() => retireDatabaseKey(db, kid, { lifetime, secretKids: secretKids() }));
      ctx.print(`Key ${kid} retired: it leaves the JWKS, and every isolate stops using it within a minute.`, { kid, retired_at: isoTime(row.retiredAt!) });
    },
  },
};
