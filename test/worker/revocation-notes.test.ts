import { describe, expect, it } from "vitest";
import {
  revokeAccessToken,
  revokeGrantAccessTokens,
  revokedGrantKey,
  revokedTokenKey,
  revokeUserClientAccessTokens,
  userClientNotBeforeKey,
} from "../../src/tokens/revocation";

/** KV as production answers a second write of one key within a second (local KV never refuses). */
function kvRefusing(message: string) {
  const written: string[] = [];
  return {
    written,
    put: async (key: string) => {
      written.push(key);
      throw new Error(message);
    },
  };
}

describe("revocation notes under KV's one-write-per-second-per-key limit", () => {
  it("a token, grant or user-and-client note refused with 429 (the same note written within the second) is a revocation that stands", async () => {
    const kv = kvRefusing("KV PUT failed: 429 Too Many Requests");
    await expect(revokeAccessToken(kv, "jti-1", Math.floor(Date.now() / 1000) + 600)).resolves.toBeUndefined();
    await expect(revokeGrantAccessTokens(kv, "grant-1", 3600)).resolves.toBeUndefined();
    // A double click on the authorized-tokens page's Revoke.
    await expect(revokeUserClientAccessTokens(kv, "user-1", "client-1", 3600)).resolves.toBeUndefined();
    expect(kv.written).toEqual([revokedTokenKey("jti-1"), revokedGrantKey("grant-1"), userClientNotBeforeKey("user-1", "client-1")]);
  });

  it("any other KV failure still fails the revocation (never a silent pass)", async () => {
    const kv = kvRefusing("KV PUT failed: 500 Internal Server Error");
    await expect(revokeAccessToken(kv, "jti-2", Math.floor(Date.now() / 1000) + 600)).rejects.toThrow("500");
    await expect(revokeGrantAccessTokens(kv, "grant-2", 3600)).rejects.toThrow("500");
    await expect(revokeUserClientAccessTokens(kv, "user-2", "client-2", 3600)).rejects.toThrow("500");
  });
});
