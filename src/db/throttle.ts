import { and, eq, gt, isNull, lte, or, sql } from "drizzle-orm";
import type { Database } from "./index";
import { signInThrottle as t } from "./schema";

/** A throttling key's limit: at most `limit` attempts per window of `windowSeconds`, then locked that long. */
export interface ThrottleLimit {
  key: string;
  limit: number;
}

export interface ThrottleWindow {
  now: number;
  windowSeconds: number;
}

export interface AttemptCount {
  attempts: number;
  lockedUntil: number | null;
}

/**
 * A row's window is over when it started a whole window ago and no lock is running. A lock ends
 * at least a window after the window started, so after a lock the count starts again from 1.
 * The cleanup job deletes exactly these rows (`clearExpired`).
 */
export const windowOver = ({ now, windowSeconds }: ThrottleWindow) =>
  sql`(${t.windowStartedAt} <= ${now - windowSeconds} AND (${t.lockedUntil} IS NULL OR ${t.lockedUntil} <= ${now}))`;

/**
 * The SET of the upsert that counts one attempt. In SQLite's upsert every column named here is the
 * row's value before the update, so the three CASEs read one consistent state. The lock starts
 * with the first attempt over the limit and is not extended by later ones.
 */
function countingSet({ limit }: ThrottleLimit, window: ThrottleWindow) {
  const over = windowOver(window);
  return {
    attempts: sql`CASE WHEN ${over} THEN 1 ELSE ${t.attempts} + 1 END`,
    windowStartedAt: sql`CASE WHEN ${over} THEN ${window.now} ELSE ${t.windowStartedAt} END`,
    lockedUntil: sql`CASE WHEN ${over} THEN NULL WHEN ${t.lockedUntil} > ${window.now} THEN ${t.lockedUntil} WHEN ${t.attempts} + 1 > ${limit} THEN ${window.now + window.windowSeconds} ELSE NULL END`,
  };
}

const returned = { attempts: t.attempts, lockedUntil: t.lockedUntil };

/** Whether a key's row, as counted, still allows this attempt. */
export function attemptAllowed(count: AttemptCount | undefined, limit: number, now: number): boolean {
  return !!count && count.attempts <= limit && (count.lockedUntil === null || count.lockedUntil <= now);
}

/**
 * The lock that refuses an attempt: `address` for the username from this client address (the
 * narrow key), `username` for the username from everywhere (the wide key). `started` when this
 * attempt began it: a lock starts with the first attempt over the limit, and the count starts
 * again only after the lock ends.
 */
export interface SignInLock {
  lock: "address" | "username";
  started: boolean;
  lockedUntil: number | null;
}

function lockOn(lock: SignInLock["lock"], count: AttemptCount | undefined, limit: number): SignInLock {
  return { lock, started: count?.attempts === limit + 1, lockedUntil: count?.lockedUntil ?? null };
}

/** Which lock, if any, refuses the attempt `countSignInAttempt` just counted; the narrow key's first. */
export function lockOf(
  counted: { narrow: AttemptCount | undefined; wide: AttemptCount | undefined },
  narrow: ThrottleLimit,
  wide: ThrottleLimit,
  now: number,
): SignInLock | undefined {
  if (!attemptAllowed(counted.narrow, narrow.limit, now)) return lockOn("address", counted.narrow, narrow.limit);
  if (!attemptAllowed(counted.wide, wide.limit, now)) return lockOn("username", counted.wide, wide.limit);
  return undefined;
}

/**
 * Counts one sign-in attempt against two keys in one batch (one round-trip; D1 runs a batch as a
 * transaction, so concurrent attempts are serialized at the primary and none is lost):
 *
 * 1. the narrow key (a username from one client address) is always counted;
 * 2. the wide key (the username alone) is counted only when the narrow key still allows the
 *    attempt, read in the same transaction. So attempts an address makes after its own lock do not
 *    use up the username's wide ceiling: one address cannot lock the username everywhere.
 *
 * Returns both counts after this attempt; the wide one is undefined when it was not counted.
 */
export async function countSignInAttempt(
  db: Database,
  narrow: ThrottleLimit,
  wide: ThrottleLimit,
  window: ThrottleWindow,
): Promise<{ narrow: AttemptCount | undefined; wide: AttemptCount | undefined }> {
  const first = { attempts: 1, windowStartedAt: window.now, lockedUntil: null };
  const narrowAllows = and(
    eq(t.key, narrow.key),
    lte(t.attempts, narrow.limit),
    or(isNull(t.lockedUntil), lte(t.lockedUntil, window.now)),
  );
  const [narrowRows, wideRows] = await db.batch([
    db
      .insert(t)
      .values({ key: narrow.key, ...first })
      .onConflictDoUpdate({ target: t.key, set: countingSet(narrow, window) })
      .returning(returned),
    db
      .insert(t)
      // INSERT … SELECT: a row only when the narrow key allows it. The WHERE also keeps SQLite
      // from reading the upsert's ON as a join constraint.
      .select(sql`SELECT ${wide.key}, 1, ${window.now}, NULL FROM ${t} WHERE ${narrowAllows}`)
      .onConflictDoUpdate({ target: t.key, set: countingSet(wide, window) })
      .returning(returned),
  ]);
  return { narrow: narrowRows[0], wide: wideRows[0] };
}

/**
 * After a successful sign-in, in one batch: forgets the narrow key's attempts (the owner proved
 * themself from that address), and takes back this attempt from the wide key without clearing it,
 * since other addresses' failures there may be an attack still under way.
 */
export async function recordSignInSuccess(db: Database, narrowKey: string, wideKey: string): Promise<void> {
  await db.batch([
    db.delete(t).where(eq(t.key, narrowKey)),
    db
      .update(t)
      .set({ attempts: sql`MAX(${t.attempts} - 1, 0)` })
      .where(and(eq(t.key, wideKey), gt(t.attempts, 0))),
  ]);
}
