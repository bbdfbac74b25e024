/** The "events" command: the recent events the operator console shows, newest first. */
import { listRecentEvents, RECORDED_EVENT_TYPES } from "../../src/db/audit-events";
import type { AuditEvent } from "../../src/db/schema";
import { findUserByUsername } from "../../src/db/users";
import { CliError, str, UsageError, type Command } from "./context";
import { isoTime, tableOr } from "./output";

const MAX_LIMIT = 1000;

function eventJson(event: AuditEvent) {
  return {
    at: isoTime(event.at),
    type: event.type,
    user_id: event.userId,
    client_id: event.clientId,
    operator_id: event.operatorId,
    detail: event.detail ?? {},
  };
}

const detailText = (event: AuditEvent) =>
  Object.entries(event.detail ?? {})
    .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`)
    .join(" ");

export const eventCommands: Record<string, Command> = {
  events: {
    summary: "List recent events (sign-ins, lock-outs, reuse, client and user changes), newest first: the console's Events page",
    usage: "[--type TYPE] [--user USERNAME] [--client CLIENT_ID] [--limit N]",
    details: `Types: ${RECORDED_EVENT_TYPES.join(", ")}.\nKept EVENT_HISTORY_DAYS (default 30); tokens issued are not recorded.`,
    options: { type: { type: "string" }, user: { type: "string" }, client: { type: "string" }, limit: { type: "string" } },
    async run(ctx) {
      const type = str(ctx.options.type);
      if (type !== undefined && !(RECORDED_EVENT_TYPES as readonly string[]).includes(type)) {
        throw new UsageError(`invalid --type ${type}: expected any of ${RECORDED_EVENT_TYPES.join(", ")}`);
      }
      const limitText = str(ctx.options.limit) ?? "50";
      if (!/^\d{1,4}$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > MAX_LIMIT) {
        throw new UsageError(`invalid --limit: a whole number from 1 to ${MAX_LIMIT}`);
      }
      const db = await ctx.db();
      const username = str(ctx.options.user);
      const user = username === undefined ? undefined : await findUserByUsername(db, username);
      if (username !== undefined && !user) throw new CliError(`user ${username} not found`);
      const client = str(ctx.options.client);
      const events = await listRecentEvents(db, Number(limitText), {
        ...(type ? { type } : {}),
        ...(user ? { userId: user.id } : {}),
        ...(client ? { clientId: client } : {}),
      });
      ctx.print(
        tableOr(
          "No events.",
          ["AT", "TYPE", "USER", "CLIENT", "OPERATOR", "DETAIL"],
          events.map((e) => [isoTime(e.at), e.type, e.userId ?? "", e.clientId ?? "", e.operatorId ?? "", detailText(e)]),
        ),
        events.map(eventJson),
      );
    },
  },
};
