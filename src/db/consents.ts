import { and, eq } from "drizzle-orm";
import type { Database } from "./index";
import { consents } from "./schema";

/** The scopes this user already approved for this client. */
export async function approvedScopes(db: Database, userId: string, clientId: string): Promise<string[]> {
  const row = await db
    .select({ scope: consents.scope })
    .from(consents)
    .where(and(eq(consents.userId, userId), eq(consents.clientId, clientId)))
    .get();
  return row ? row.scope.split(" ").filter(Boolean) : [];
}

/** Records an approval; the stored scopes grow to include the new ones. */
export async function saveConsent(db: Database, userId: string, clientId: string, scope: string[], already: string[]) {
  const merged = [...new Set([...already, ...scope])].join(" ");
  const now = Math.floor(Date.now() / 1000);
  await db
    .insert(consents)
    .values({ userId, clientId, scope: merged, createdAt: now, updatedAt: now })
    .onConflictDoUpdate({ target: [consents.userId, consents.clientId], set: { scope: merged, updatedAt: now } })
    .run();
}
