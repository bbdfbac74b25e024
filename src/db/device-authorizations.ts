import { and, eq, gt, inArray, isNull, lte, or, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { isUniqueViolation, type Database } from "./index";
import { deviceAuthorizations as d, signInThrottle, users, type DeviceAuthorization } from "./schema";
import { spendHashedId } from "./spent-ids";

/**
 * RFC 8628 device authorizations in D1, always at the primary: the device polls from wherever it
 * is, the user approves from wherever they are, and each must see the other's write at once
 * (docs/consistency.md). Every change of state is a conditional UPDATE, so it happens once.
 */

/** How much `slow_down` adds to a device's interval (RFC 8628 §3.5). */
export const SLOW_DOWN_SECONDS = 5;

export interface NewDeviceAuthorization {
  deviceCodeHash: string;
  userCode: string;
  clientId: string;
  scope: string;
  resources: string[];
  interval: number;
  expiresAt: number;
}

/** Records a new device authorization; throws D1's unique-constraint error when the user code is taken. */
export async function insertDeviceAuthorization(db: Database, row: NewDeviceAuthorization): Promise<void> {
  await db.insert(d).values({ ...row, status: "pending" }).run();
}

/** A pending, unexpired authorization by its (normalized) user code: what the verification page shows. */
export async function findPendingByUserCode(db: Database, userCode: string, now: number): Promise<DeviceAuthorization | undefined> {
  const rows = await db
    .select()
    .from(d)
    .where(and(eq(d.userCode, userCode), eq(d.status, "pending"), gt(d.expiresAt, now)))
    .limit(1);
  return rows[0];
}

/**
 * The user's decision, once: pending and unexpired → approved (with who and when they signed in)
 * or denied. Returns the row decided, or undefined when it was no longer pending (decided in
 * another tab, expired, or polled away).
 */
export async function decideDeviceAuthorization(
  db: Database,
  userCode: string,
  decision: { status: "approved" | "denied"; userId: string; authTime: number },
  now: number,
): Promise<DeviceAuthorization | undefined> {
  const rows = await db
    .update(d)
    .set(decision)
    .where(and(eq(d.userCode, userCode), eq(d.status, "pending"), gt(d.expiresAt, now)))
    .returning();
  return rows[0];
}

/**
 * What one poll found: the authorization when it is approved and unexpired (tokens are due, once
 * `redeemDeviceAuthorization` spends it), whether it was too fast, the row after the poll, and
 * whether its user is active in the built-in users table (null: no such row).
 */
export interface PollOutcome {
  approved: DeviceAuthorization | undefined;
  slowedDown: boolean;
  row: DeviceAuthorization | undefined;
  userActive: boolean | null;
}

/**
 * One poll of the token endpoint (RFC 8628 §3.4, §3.5), as one batch at the primary (D1 runs a
 * batch as a transaction, so concurrent polls are serialized):
 *
 * 1. still pending and polled again before `interval` passed: `interval` grows by 5 s (`slow_down`);
 * 2. still pending and not too fast: `last_polled_at` is recorded;
 * 3. the row as it is now, to tell the answers apart, with its user's `is_active`.
 *
 * Every statement also matches the client, so another client's poll changes nothing. An approval
 * is only read here: it is spent with the tokens' writes (`redeemDeviceAuthorization`).
 */
export async function pollDeviceAuthorization(db: Database, deviceCodeHash: string, clientId: string, now: number): Promise<PollOutcome> {
  const ours = and(eq(d.deviceCodeHash, deviceCodeHash), eq(d.clientId, clientId), gt(d.expiresAt, now));
  const tooFast = sql`${d.lastPolledAt} IS NOT NULL AND ${d.lastPolledAt} > ${now} - ${d.interval}`;
  const [slowed, , current] = await db.batch([
    db
      .update(d)
      .set({ interval: sql`${d.interval} + ${SLOW_DOWN_SECONDS}`, lastPolledAt: now })
      .where(and(ours, eq(d.status, "pending"), tooFast))
      .returning({ interval: d.interval }),
    db
      .update(d)
      .set({ lastPolledAt: now })
      .where(and(ours, eq(d.status, "pending"), or(isNull(d.lastPolledAt), lte(d.lastPolledAt, sql`${now} - ${d.interval}`)))),
    db.select({ row: d, userActive: users.isActive }).from(d).leftJoin(users, eq(users.id, d.userId)).where(eq(d.deviceCodeHash, deviceCodeHash)).limit(1),
  ]);
  const row = current[0]?.row;
  const approved = row && row.clientId === clientId && row.status === "approved" && row.expiresAt > now ? row : undefined;
  return { approved, slowedDown: slowed.length > 0, row, userActive: current[0]?.userActive ?? null };
}

/**
 * Spends an approved device code and writes what it issues (`alongside`: the refresh token) in
 * one batch at the primary, so either both happen or neither: the unique insert of the code's
 * spent id fails the whole batch on a second redemption (as a code redemption's does, also under
 * concurrent polls), then the row becomes `consumed`. False when the code was spent already.
 */
export async function redeemDeviceAuthorization(db: Database, row: DeviceAuthorization, alongside: BatchItem<"sqlite">[]): Promise<boolean> {
  const spend = spendHashedId(db, "device_code", row.deviceCodeHash, row.expiresAt);
  const consume = db.update(d).set({ status: "consumed" }).where(and(eq(d.deviceCodeHash, row.deviceCodeHash), eq(d.status, "approved")));
  try {
    await db.batch([spend, consume, ...alongside]);
    return true;
  } catch (err) {
    if (isUniqueViolation(err)) return false;
    throw err;
  }
}

/** Throttle keys of wrong user-code entries: the signed-in user from one address (narrow), and the user everywhere (wide). */
export function userCodeThrottleKeys(userId: string, address: string): { narrow: string; wide: string } {
  const user = `user_code:${encodeURIComponent(userId)}`;
  return { narrow: `${user}|addr:${encodeURIComponent(address)}`, wide: user };
}

/**
 * A right user code gives back the attempt counted for it, so only wrong entries add up (the
 * lock, once started, stays until it ends). Each entry is counted before the lookup, so
 * concurrent guesses cannot slip past the limit.
 */
export async function takeBackUserCodeAttempt(db: Database, keys: { narrow: string; wide: string }): Promise<void> {
  await db
    .update(signInThrottle)
    .set({ attempts: sql`MAX(${signInThrottle.attempts} - 1, 0)` })
    .where(and(inArray(signInThrottle.key, [keys.narrow, keys.wide]), gt(signInThrottle.attempts, 0)))
    .run();
}
