import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from "cloudflare:test";
import { eq, inArray } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { codeRedemptions, signInThrottle, refreshTokens } from "../../src/db/schema";
import { CLEANUP_BATCH, clearExpired } from "../../src/db/cleanup";
import worker from "../../src/index";
import { parseSettings } from "../../src/core/settings";
import { createClient, db } from "./support/helpers";

describe("cleartokens (Cron Trigger)", () => {
  it("removes exactly what has expired", async () => {
    const { clientId } = await createClient();
    const now = Math.floor(Date.now() / 1000);
    const row = (id: string, fields: Partial<typeof refreshTokens.$inferInsert>) => ({
      id,
      tokenHash: `hash-${id}`,
      grantId: `grant-${id}`,
      clientId,
      userId: "user-1",
      scope: "read",
      createdAt: now - 10,
      expiresAt: now + 3600,
      ...fields,
    });
    const ids = {
      expired: crypto.randomUUID(),
      live: crypto.randomUUID(),
      revokedLongAgo: crypto.randomUUID(),
      revokedJustNow: crypto.randomUUID(),
      rotated: crypto.randomUUID(),
    };
    await db()
      .insert(refreshTokens)
      .values([
        row(ids.expired, { expiresAt: now - 1 }),
        row(ids.live, {}),
        row(ids.revokedLongAgo, { revokedAt: now - 7200 }),
        row(ids.revokedJustNow, { revokedAt: now - 5 }),
        row(ids.rotated, { rotatedAt: now - 7200, replacedBy: "x" }),
      ]);
    // A redemption record stays while a replay of its code could still revoke live tokens.
    const codes = {
      live: `c-${crypto.randomUUID()}`,
      expiredGrantDone: `c-${crypto.randomUUID()}`,
      expiredGrantRevoked: `c-${crypto.randomUUID()}`,
      expiredRecentAccessTokens: `c-${crypto.randomUUID()}`,
      expiredLiveRefreshToken: `c-${crypto.randomUUID()}`,
    };
    const redemption = (codeHash: string, grantId: string, redeemedAt: number) => ({
      codeHash,
      grantId,
      clientId,
      redeemedAt,
      expiresAt: redeemedAt + 60,
    });
    await db()
      .insert(codeRedemptions)
      .values([
        redemption(codes.live, `grant-${crypto.randomUUID()}`, now - 1),
        redemption(codes.expiredGrantDone, `grant-${ids.expired}`, now - 7200),
        redemption(codes.expiredGrantRevoked, `grant-${ids.revokedJustNow}`, now - 7200),
        redemption(codes.expiredRecentAccessTokens, `grant-${crypto.randomUUID()}`, now - 100),
        redemption(codes.expiredLiveRefreshToken, `grant-${ids.live}`, now - 7200),
      ]);
    const names = { stale: `u-${crypto.randomUUID()}`, locked: `u-${crypto.randomUUID()}` };
    await db()
      .insert(signInThrottle)
      .values([
        { key: names.stale, attempts: 2, windowStartedAt: now - 3600 },
        { key: names.locked, attempts: 5, windowStartedAt: now - 10, lockedUntil: now + 890 },
      ]);

    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: "17 * * * *" }), env as never, ctx);
    await waitOnExecutionContext(ctx);

    const left = await db().select({ id: refreshTokens.id }).from(refreshTokens).where(inArray(refreshTokens.id, Object.values(ids)));
    expect(left.map((r) => r.id).sort()).toEqual([ids.live, ids.revokedJustNow, ids.rotated].sort());
    const codesLeft = await db().select().from(codeRedemptions).where(inArray(codeRedemptions.codeHash, Object.values(codes)));
    expect(codesLeft.map((r) => r.codeHash).sort()).toEqual([codes.live, codes.expiredRecentAccessTokens, codes.expiredLiveRefreshToken].sort());
    expect(await db().select().from(signInThrottle).where(eq(signInThrottle.key, names.stale))).toEqual([]);
    expect(await db().select().from(signInThrottle).where(eq(signInThrottle.key, names.locked))).toHaveLength(1);
  });

  it("deletes in bounded batches", async () => {
    const { clientId } = await createClient();
    const now = Math.floor(Date.now() / 1000);
    const rows = Array.from({ length: CLEANUP_BATCH + 20 }, (_, i) => ({
      codeHash: `bulk-${i}-${crypto.randomUUID()}`,
      grantId: "g",
      clientId,
      redeemedAt: now - 7200,
      expiresAt: now - 7140,
    }));
    for (let i = 0; i < rows.length; i += 10) await db().insert(codeRedemptions).values(rows.slice(i, i + 10));
    const first = await clearExpired(db(), parseSettings({}), now, 1);
    expect(first.codeRedemptions).toBe(CLEANUP_BATCH);
    const second = await clearExpired(db(), parseSettings({}), now, 1);
    expect(second.codeRedemptions).toBeGreaterThanOrEqual(20);
  });
});
