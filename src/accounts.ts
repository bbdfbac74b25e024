import { eq, sql } from "drizzle-orm";
import { verifyPassword } from "./crypto";
import type { Database } from "./db/index";
import { IsolateCache } from "./isolate-cache";
import { signInThrottle as loginThrottle, users } from "./db/schema";
import type { Settings } from "./settings";

/** A user as the provider sees one; hosts with their own user store return this shape. */
export interface Account {
  /** Stable identifier: the `sub` of tokens. */
  id: string;
  username: string;
  email?: string | null;
  /** Changes when the user's credentials change; sessions signed in before then end. */
  credentialVersion: string;
  /** OpenID Connect standard claims (OIDC Core §5.1) known for this user. */
  claims?: Record<string, unknown>;
}

/** Where users come from: the built-in D1 table by default; `createProvider({ accounts })` plugs in another. */
export interface AccountStore {
  /** The active user with these credentials, or null. */
  authenticate(db: Database, username: string, password: string): Promise<Account | null>;
  /** The active user with this id, or null when missing or disabled. */
  findById(db: Database, id: string): Promise<Account | null>;
}

const toAccount = (row: typeof users.$inferSelect): Account => ({
  id: row.id,
  username: row.username,
  email: row.email,
  credentialVersion: row.passwordHash,
  claims: {
    preferred_username: row.username,
    ...(row.email ? { email: row.email, email_verified: false } : {}),
    ...row.claims,
    updated_at: row.updatedAt,
  },
});

// Verified against when the username is unknown, so a miss costs as much time as a wrong password.
const DUMMY_HASH = "pbkdf2_sha256$100000$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

export const builtinAccounts: AccountStore = {
  async authenticate(db, username, password) {
    const row = await db.select().from(users).where(eq(users.username, username)).get();
    const valid = await verifyPassword(password, row?.passwordHash ?? DUMMY_HASH);
    return row && valid && row.isActive ? toAccount(row) : null;
  },
  async findById(db, id) {
    const row = await db.select().from(users).where(eq(users.id, id)).get();
    return row && row.isActive ? toAccount(row) : null;
  },
};

/**
 * Throttling of password guesses per username, shared by the login form and the password grant:
 * after LOGIN_MAX_FAILURES failures within LOGIN_LOCKOUT_SECONDS the username is locked for that long.
 */
async function isLockedOut(db: Database, username: string): Promise<boolean> {
  const row = await db.select().from(loginThrottle).where(eq(loginThrottle.key, username)).get();
  return !!row?.lockedUntil && row.lockedUntil > Math.floor(Date.now() / 1000);
}

async function recordLoginFailure(db: Database, username: string, settings: Settings): Promise<void> {
  const now = Math.floor(Date.now() / 1000);
  const windowStart = now - settings.LOGIN_LOCKOUT_SECONDS;
  // One statement, so that concurrent failures are all counted.
  await db
    .insert(loginThrottle)
    .values({ key: username, attempts: 1, windowStartedAt: now })
    .onConflictDoUpdate({
      target: loginThrottle.key,
      set: {
        attempts: sql`CASE WHEN ${loginThrottle.windowStartedAt} < ${windowStart} THEN 1 ELSE ${loginThrottle.attempts} + 1 END`,
        windowStartedAt: sql`CASE WHEN ${loginThrottle.windowStartedAt} < ${windowStart} THEN ${now} ELSE ${loginThrottle.windowStartedAt} END`,
        lockedUntil: sql`CASE WHEN ${loginThrottle.windowStartedAt} >= ${windowStart} AND ${loginThrottle.attempts} + 1 >= ${settings.LOGIN_MAX_FAILURES} THEN ${now + settings.LOGIN_LOCKOUT_SECONDS} ELSE ${loginThrottle.lockedUntil} END`,
      },
    })
    .run();
}

async function clearLoginFailures(db: Database, username: string): Promise<void> {
  await db.delete(loginThrottle).where(eq(loginThrottle.key, username)).run();
}

/**
 * A password sign-in, throttled per username, the same for the login form and the password
 * grant: "locked" while the username is locked out, "invalid" for wrong credentials (counted),
 * else the account (and its failures are forgotten).
 */
export async function signInWithPassword(
  store: AccountStore,
  db: Database,
  settings: Settings,
  username: string,
  password: string,
): Promise<Account | "locked" | "invalid"> {
  if (await isLockedOut(db, username)) return "locked";
  const account = await store.authenticate(db, username, password);
  if (!account) {
    await recordLoginFailure(db, username, settings);
    return "invalid";
  }
  await clearLoginFailures(db, username);
  return account;
}

/**
 * Accounts by id, cached per isolate like client records, for the introspection endpoint's
 * `username` (so introspecting an access token needs no D1 query on a warm isolate). A
 * disabled user's tokens introspect as inactive within the cache time.
 */
const accountCache = new IsolateCache<Account | null>();

export function findAccountCached(store: AccountStore, db: Database, id: string, ttlSeconds: number): Promise<Account | null> {
  return accountCache.get(id, ttlSeconds, () => store.findById(db, id));
}
