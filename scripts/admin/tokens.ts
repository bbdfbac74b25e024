/** cleartokens: removes expired rows. */
import { clearExpired } from "../../src/db/cleanup";
import type { Command } from "./context";

export const tokenCommands: Record<string, Command> = {
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
