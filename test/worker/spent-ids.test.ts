import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { clearExpired } from "../../src/db/cleanup";
import { spendOnce } from "../../src/db/spent-ids";
import { parseSettings } from "../../src/core/settings";
import { db } from "./support/helpers";

/** Single-use identifiers (PAR request_uri, client assertion and DPoP jti): spent once, even in parallel. */
describe("spendOnce", () => {
  const later = () => Math.floor(Date.now() / 1000) + 60;

  it("is true the first time and false after, per kind", async () => {
    const value = crypto.randomUUID();
    expect(await spendOnce(db(), "par", value, later())).toBe(true);
    expect(await spendOnce(db(), "par", value, later())).toBe(false);
    // Another kind is another namespace.
    expect(await spendOnce(db(), "dpop", value, later())).toBe(true);
  });

  it("lets exactly one of many concurrent uses through", async () => {
    const value = crypto.randomUUID();
    const results = await Promise.all(Array.from({ length: 8 }, () => spendOnce(db(), "client_assertion", value, later())));
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it("keeps only a hash, and cleanup removes expired ones", async () => {
    const value = `secret-${crypto.randomUUID()}`;
    const now = Math.floor(Date.now() / 1000);
    expect(await spendOnce(db(), "par", value, now - 1)).toBe(true);
    const rows = await env.DB.prepare("SELECT id FROM spent_ids WHERE id LIKE 'par:%'").all<{ id: string }>();
    expect(rows.results.some((r) => r.id.includes(value))).toBe(false);
    const report = await clearExpired(db(), parseSettings({}), now);
    expect(report.spentIds).toBeGreaterThanOrEqual(1);
    expect(await spendOnce(db(), "par", value, now + 60)).toBe(true);
  });
});
