import { calculateJwkThumbprint } from "jose";
import { describe, expect, it } from "vitest";
import { generateSigningKey } from "../../src/tokens/generate-keys";

describe("generated signing keys", () => {
  it("a kid is the key's thumbprint and never starts with '-' (it would read as a CLI option)", async () => {
    // 300 keys: a '-' first character (1 in 64) would turn up with a probability above 99 %.
    const keys = await Promise.all(Array.from({ length: 300 }, () => generateSigningKey("ES256")));
    for (const key of keys) {
      expect(key.kid!.startsWith("-")).toBe(false);
      const { kid, alg, use, ...jwk } = key;
      expect(kid).toBe(await calculateJwkThumbprint(jwk));
      expect({ alg, use }).toEqual({ alg: "ES256", use: "sig" });
    }
  });
});
