/** cleartokens: removes expired rows. */
import { clearExpired } from "../../src/db/cleanup";
import type { Command } from "./context";

export const tokenCommands: Record<string, Command> = {
  cleartokens: {
    summary: "Remove expired refresh tokens, code redemption records, stale throttling rows, spent initial access tokens and stale metadata document clients (DOT's cleartokens)",
    async run(ctx) {
      const report = await clearExpired(await ctx.db(), ctx.settings());
      ctx.print(
        `Removed ${report.refreshTokens} refresh tokens, ${report.codeRedemptions} code redemptions, ${report.signInThrottle} throttling rows, ${report.sessions} expired sessions, ` +
          `${report.initialAccessTokens} spent initial access tokens, ${report.metadataDocumentClients} stale metadata document clients.`,
        report,
      );
    },
  },
};
