import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from "cloudflare:test";
import { eq, inArray } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { clients, codeRedemptions, consents, initialAccessTokens, signInThrottle, refreshTokens } from "../../src/db/schema";
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

  it("removes spent initial access tokens, and metadata document clients a day stale that nothing refers to", async () => {
    const now = Math.floor(Date.now() / 1000);
    const tokens = { expired: `iat-${crypto.randomUUID()}`, usedUp: `iat-${crypto.randomUUID()}`, live: `iat-${crypto.randomUUID()}`, unlimited: `iat-${crypto.randomUUID()}` };
    await db()
      .insert(initialAccessTokens)
      .values([
        { tokenHash: tokens.expired, expiresAt: now - 1, usesLeft: 3 },
        { tokenHash: tokens.usedUp, usesLeft: 0 },
        { tokenHash: tokens.live, expiresAt: now + 600, usesLeft: 1 },
        { tokenHash: tokens.unlimited },
      ]);
    const doc = (name: string) => `https://${name}-${crypto.randomUUID()}.cimd.test/client.json`;
    const ids = { stale: doc("stale"), consented: doc("consented"), withToken: doc("token"), recent: doc("recent") };
    const row = (id: string, metadataExpiresAt: number) => ({
      id,
      name: id,
      clientType: "public" as const,
      source: "metadata_document" as const,
      grantTypes: ["authorization_code" as const],
      redirectUris: ["https://app.example/cb"],
      tokenEndpointAuthMethod: "none" as const,
      metadataExpiresAt,
    });
    const twoDaysAgo = now - 2 * 24 * 3600;
    await db().insert(clients).values([row(ids.stale, twoDaysAgo), row(ids.consented, twoDaysAgo), row(ids.withToken, twoDaysAgo), row(ids.recent, now - 3600)]);
    await db().insert(consents).values({ userId: "user-1", clientId: ids.consented, scope: "read" });
    await db().insert(refreshTokens).values({
      id: crypto.randomUUID(), tokenHash: `hash-${crypto.randomUUID()}`, grantId: "g", clientId: ids.withToken, userId: "user-1", scope: "read", createdAt: now, expiresAt: now + 3600,
    });
    const { clientId: operators } = await createClient();

    const report = await clearExpired(db(), parseSettings({}), now);
    expect(report.initialAccessTokens).toBeGreaterThanOrEqual(2);
    const tokensLeft = await db().select({ hash: initialAccessTokens.tokenHash }).from(initialAccessTokens).where(inArray(initialAccessTokens.tokenHash, Object.values(tokens)));
    expect(tokensLeft.map((t) => t.hash).sort()).toEqual([tokens.live, tokens.unlimited].sort());
    const clientsLeft = await db().select({ id: clients.id }).from(clients).where(inArray(clients.id, [...Object.values(ids), operators]));
    expect(clientsLeft.map((c) => c.id).sort()).toEqual([ids.consented, ids.withToken, ids.recent, operators].sort());
  });
});
