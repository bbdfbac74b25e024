import { eq, sql } from "drizzle-orm";
import { IsolateCache } from "../isolate-cache";
import type { Database } from "./index";
import { clients, type Client, type NewClient } from "./schema";

export async function findClient(db: Database, clientId: string): Promise<Client | undefined> {
  return db.select().from(clients).where(eq(clients.id, clientId)).get();
}

export async function insertClient(db: Database, client: NewClient): Promise<Client> {
  const [row] = await db.insert(clients).values(client).returning();
  return row!;
}

export async function listClients(db: Database): Promise<Client[]> {
  return db.select().from(clients).orderBy(clients.createdAt, clients.id).all();
}

export async function deleteClient(db: Database, clientId: string): Promise<boolean> {
  const rows = await db.delete(clients).where(eq(clients.id, clientId)).returning({ id: clients.id });
  return rows.length > 0;
}

export async function updateClientSecretHash(db: Database, clientId: string, secretHash: string): Promise<boolean> {
  const rows = await db
    .update(clients)
    .set({ secretHash, updatedAt: Math.floor(Date.now() / 1000) })
    .where(eq(clients.id, clientId))
    .returning({ id: clients.id });
  return rows.length > 0;
}

/**
 * Client records change rarely and are read on every token request, so each isolate keeps them
 * for `ttlSeconds`. A secret rotation or a deletion therefore takes effect everywhere within that
 * time. Unknown ids are not cached, so a new client works at once. Concurrent misses share one query.
 */
const clientCache = new IsolateCache<Client | undefined>((client) => client !== undefined);

export function findClientCached(db: Database, clientId: string, ttlSeconds: number): Promise<Client | undefined> {
  return clientCache.get(clientId, ttlSeconds, () => findClient(db, clientId));
}

/** Drops this isolate's cached copy (used after changes made through this isolate, and by tests). */
export function forgetCachedClient(clientId?: string): void {
  clientCache.forget(clientId);
  if (clientId === undefined) originCache.forget();
}

/**
 * Whether any client registered this origin for CORS. Cached per isolate like client records
 * (answers "no" included), so a newly registered origin works within the cache time.
 */
const originCache = new IsolateCache<boolean>();

export function isOriginRegistered(db: Database, origin: string, ttlSeconds: number): Promise<boolean> {
  return originCache.get(origin, ttlSeconds, async () => {
    const row = await db
      .select({ id: clients.id })
      .from(clients)
      .where(sql`EXISTS (SELECT 1 FROM json_each(${clients.allowedOrigins}) WHERE json_each.value = ${origin})`)
      .limit(1)
      .get();
    return row !== undefined;
  });
}
