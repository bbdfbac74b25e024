import { and, desc, eq, inArray, lte, type SQL } from "drizzle-orm";
import type { ProviderEvent } from "../core/events";
import type { Database } from "./index";
import { auditEvents, clients, users, type AuditEvent } from "./schema";

/**
 * Events kept for the operator console: not tokens issued, refreshed or revoked one by one, nor
 * every consent given (each authorization would write a row); the rest are rare or matter to an
 * operator when they happen.
 */
export const RECORDED_EVENT_TYPES = [
  "signin.succeeded",
  "signin.failed",
  "signin.locked_out",
  "refresh_token.reused",
  "authorization_code.reused",
  "authorization.revoked",
  "client.registered",
  "client.updated",
  "client.deleted",
  "client.secret_rotated",
  "client.tokens_revoked",
  "user.created",
  "user.disabled",
  "user.enabled",
  "user.password_changed",
  "user.signed_out",
  "key.added",
  "key.promoted",
  "key.retired",
] as const satisfies readonly ProviderEvent["type"][];

const RECORDED = new Set<string>(RECORDED_EVENT_TYPES);

export const isRecorded = (event: ProviderEvent) => RECORDED.has(event.type);

/** The row of an event: the ids it names in their columns, its other fields as detail. */
export function auditRow(event: ProviderEvent, at: number): AuditRow {
  const { type, ...fields } = event as ProviderEvent & { userId?: string; clientId?: string; operatorId?: string };
  const { userId, clientId, operatorId, ...detail } = fields;
  return {
    at,
    type,
    userId: userId ?? null,
    clientId: clientId ?? null,
    operatorId: operatorId ?? null,
    detail: Object.keys(detail).length > 0 ? detail : null,
  };
}

export type AuditRow = typeof auditEvents.$inferInsert;

/** Records events in one statement. */
export async function recordAuditEvents(db: Database, rows: AuditRow[]): Promise<void> {
  if (rows.length > 0) await db.insert(auditEvents).values(rows);
}

export interface AuditEventFilter {
  type?: string;
  userId?: string;
  clientId?: string;
}

/** The latest events first, at most `limit`, matching every filter given. */
export async function listRecentEvents(db: Database, limit: number, filter: AuditEventFilter = {}): Promise<AuditEvent[]> {
  const conditions = [
    filter.type ? eq(auditEvents.type, filter.type) : undefined,
    filter.userId ? eq(auditEvents.userId, filter.userId) : undefined,
    filter.clientId ? eq(auditEvents.clientId, filter.clientId) : undefined,
  ].filter((c): c is SQL => c !== undefined);
  return db.select().from(auditEvents).where(and(...conditions)).orderBy(desc(auditEvents.id)).limit(limit).all();
}

/** The usernames and client names of the ids some events name, in one round-trip (missing ones are left out). */
export async function namesOfEvents(db: Database, events: AuditEvent[]): Promise<{ users: Map<string, string>; clients: Map<string, string> }> {
  const userIds = [...new Set(events.flatMap((e) => [e.userId, e.operatorId]).filter((id): id is string => id !== null))];
  const clientIds = [...new Set(events.map((e) => e.clientId).filter((id): id is string => id !== null))];
  const [userRows, clientRows] = await db.batch([
    db.select({ id: users.id, name: users.username }).from(users).where(inArray(users.id, userIds.length > 0 ? userIds : [""])),
    db.select({ id: clients.id, name: clients.name }).from(clients).where(inArray(clients.id, clientIds.length > 0 ? clientIds : [""])),
  ]);
  return { users: new Map(userRows.map((r) => [r.id, r.name])), clients: new Map(clientRows.map((r) => [r.id, r.name])) };
}

/** Cleanup's condition: events older than the history kept. */
export const eventsBefore = (at: number) => lte(auditEvents.at, at);
