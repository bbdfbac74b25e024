import { and, eq } from "drizzle-orm";
import type { Database } from "./index";
import { consents } from "./schema";
import { nowSeconds } from "../core/time";

/** What a user approved for a client: scopes, claims beyond them, resources named, and (for public clients) where to. */
export interface Approval {
  scopes: string[];
  claims: string[];
  redirectUris: string[];
  resources: string[];
}

export const NOTHING_APPROVED: Approval = { scopes: [], claims: [], redirectUris: [], resources: [] };

/** The query for a user's approval of a client, to run alone or inside a batch. */
export function approvalQuery(db: Database, userId: string, clientId: string) {
  return db
    .select({ scope: consents.scope, claims: consents.claims, redirectUris: consents.redirectUris, resources: consents.resources })
    .from(consents)
    .where(and(eq(consents.userId, userId), eq(consents.clientId, clientId)));
}

export function toApproval(row: { scope: string; claims: string[]; redirectUris: string[]; resources: string[] } | undefined): Approval {
  if (!row) return NOTHING_APPROVED;
  return { scopes: row.scope.split(" ").filter(Boolean), claims: row.claims, redirectUris: row.redirectUris, resources: row.resources };
}

/** Records an approval; what was approved before stays approved, the new scopes, claims and redirect URI join it. */
export async function saveApproval(db: Database, userId: string, clientId: string, approved: Approval, already: Approval): Promise<void> {
  const merged = (a: string[], b: string[]) => [...new Set([...a, ...b])];
  const scope = merged(already.scopes, approved.scopes).join(" ");
  const claims = merged(already.claims, approved.claims);
  const redirectUris = merged(already.redirectUris, approved.redirectUris);
  const resources = merged(already.resources, approved.resources);
  const now = nowSeconds();
  await db
    .insert(consents)
    .values({ userId, clientId, scope, claims, redirectUris, resources, createdAt: now, updatedAt: now })
    .onConflictDoUpdate({ target: [consents.userId, consents.clientId], set: { scope, claims, redirectUris, resources, updatedAt: now } })
    .run();
}
