import { and, eq, sql } from "drizzle-orm";
import { IsolateCache } from "../core/isolate-cache";
import { nearbyReplica, type Database } from "./index";
import { clients, type Client, type NewClient } from "./schema";
import { nowSeconds } from "../core/time";

export async function findClient(db: Database, clientId: string): Promise<Client | undefined> {
  return db.select().from(clients).where(eq(clients.id, clientId)).get();
}

export async function insertClient(db: Database, client: NewClient): Promise<Client> {
  const [row] = await db.insert(clients).values(client).returning();
  return row!;
}

export const countClients = (db: Database): Promise<number> => db.$count(clients);

export async function listClients(db: Database): Promise<Client[]> {
  return db.select().from(clients).orderBy(clients.createdAt, clients.id).all();
}

/** The applications a user registered on the application pages, newest first. */
export async function listUserApplications(db: Database, userId: string): Promise<Client[]> {
  return db
    .select()
    .from(clients)
    .where(and(eq(clients.userId, userId), eq(clients.source, "user")))
    .orderBy(sql`${clients.createdAt} DESC`, clients.id)
    .all();
}

/** One of a user's applications; undefined for any other client (another user's, an operator's, a registered one). */
export async function findUserApplication(db: Database, userId: string, clientId: string): Promise<Client | undefined> {
  return db
    .select()
    .from(clients)
    .where(and(eq(clients.id, clientId), eq(clients.userId, userId), eq(clients.source, "user")))
    .get();
}

export async function deleteClient(db: Database, clientId: string): Promise<boolean> {
  const rows = await db.delete(clients).where(eq(clients.id, clientId)).returning({ id: clients.id });
  return rows.length > 0;
}

/**
 * Gives a client a new secret hash and keeps the current one as the previous secret until
 * `previousExpiresAt` (null: no grace, the previous secret is dropped). SQLite evaluates every SET
 * expression against the row as it was, so `previous_secret_hash` gets the hash being replaced.
 */
export async function replaceClientSecretHash(
  db: Database,
  clientId: string,
  secretHash: string,
  previousExpiresAt: number | null,
  secretSealed: string | null = null,
): Promise<boolean> {
  const rows = await db
    .update(clients)
    .set({
      secretHash,
      // client_secret_jwt's sealed copy follows the new secret; without one it is dropped (fail closed).
      secretSealed,
      previousSecretHash: previousExpiresAt === null ? null : sql`${clients.secretHash}`,
      previousSecretExpiresAt: previousExpiresAt,
      updatedAt: nowSeconds(),
    })
    .where(eq(clients.id, clientId))
    .returning({ id: clients.id });
  return rows.length > 0;
}

/** Replaces a client's registered redirect URIs (npm start's demo client, when PORT changes). */
export async function replaceClientRedirectUris(db: Database, clientId: string, redirectUris: string[]): Promise<boolean> {
  const rows = await db
    .update(clients)
    .set({ redirectUris, updatedAt: nowSeconds() })
    .where(eq(clients.id, clientId))
    .returning({ id: clients.id });
  return rows.length > 0;
}

/** Ends the grace of the last rotation: the previous secret stops working. */
export async function dropPreviousClientSecret(db: Database, clientId: string): Promise<boolean> {
  const rows = await db
    .update(clients)
    .set({ previousSecretHash: null, previousSecretExpiresAt: null, updatedAt: nowSeconds() })
    .where(eq(clients.id, clientId))
    .returning({ id: clients.id });
  return rows.length > 0;
}

/**
 * Client records change rarely and are read on every token request, so each isolate keeps them
 * for `ttlSeconds`, loaded from a nearby D1 replica. A deletion therefore takes effect everywhere
 * within that time plus the replica's lag; a rotated secret works at once (`reloadCachedClient`
 * reads the primary). Unknown ids are not cached, so a new client works as soon as the replica
 * has it. Concurrent misses share one query. (docs/consistency.md, "clients".)
 */
const clientCache = new IsolateCache<Client | undefined>((client) => client !== undefined);

export function findClientCached(db: Database, clientId: string, ttlSeconds: number): Promise<Client | undefined> {
  return clientCache.get(clientId, ttlSeconds, () => findClient(nearbyReplica(db), clientId));
}

/** At most one reload per client per this many milliseconds, per isolate. */
export const CLIENT_RELOAD_INTERVAL_MS = 5_000;
const lastReload = new Map<string, number>();

/**
 * Reads a client again from the D1 primary (not a replica, which may not have the rotation yet),
 * replacing this isolate's cached copy, for a secret that did not match the cached record (it may
 * predate a `client rotate-secret`). Bounded so that a flood of wrong secrets cannot become one D1
 * query per request: within CLIENT_RELOAD_INTERVAL_MS of the last reload this returns the cached
 * record, or the reload in flight, without a query.
 */
export function reloadCachedClient(db: Database, clientId: string, ttlSeconds: number): Promise<Client | undefined> {
  const now = Date.now();
  const last = lastReload.get(clientId);
  if (ttlSeconds > 0 && (last === undefined || now - last >= CLIENT_RELOAD_INTERVAL_MS)) {
    if (lastReload.size >= 10_000) lastReload.clear();
    lastReload.set(clientId, now);
    clientCache.forget(clientId);
  }
  return clientCache.get(clientId, ttlSeconds, () => findClient(db, clientId));
}

/** Puts a client this isolate just wrote at the primary into its cache (a metadata document fetched again). */
export function rememberClient(client: Client, ttlSeconds: number): void {
  clientCache.forget(client.id);
  void clientCache.get(client.id, ttlSeconds, () => Promise.resolve(client));
}

/** Drops this isolate's cached copy (used after changes made through this isolate, and by tests). */
export function forgetCachedClient(clientId?: string): void {
  clientCache.forget(clientId);
  if (clientId === undefined) {
    originCache.forget();
    lastReload.clear();
  } else {
    lastReload.delete(clientId);
  }
}

/**
 * Whether any client registered this origin for CORS. Cached per isolate like client records
 * (answers "no" included) and loaded from a nearby replica, so a newly registered origin works
 * within the cache time plus the replica's lag.
 */
const originCache = new IsolateCache<boolean>();

export function isOriginRegistered(db: Database, origin: string, ttlSeconds: number): Promise<boolean> {
  return originCache.get(origin, ttlSeconds, async () => {
    const row = await nearbyReplica(db)
      .select({ id: clients.id })
      .from(clients)
      .where(sql`EXISTS (SELECT 1 FROM json_each(${clients.allowedOrigins}) WHERE json_each.value = ${origin})`)
      .limit(1)
      .get();
    return row !== undefined;
  });
}
