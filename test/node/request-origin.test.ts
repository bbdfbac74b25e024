import { describe, expect, it } from "vitest";
import { requestOrigin } from "../../src/core/request-origin";

describe("requestOrigin", () => {
  it("answers what URL answers for the whole URL", () => {
    for (const url of [
      "https://auth.example.com/o/token/",
      "https://auth.example.com:443/o/token/?a=1",
      "http://localhost:8787/api/me?access_token=x#f",
      "http://[::1]:8787/o/introspect",
      "https://user:pass@auth.example.com/o/token",
      "https://AUTH.Example.com",
      "http://127.0.0.1/",
    ]) {
      const whole = new URL(url);
      expect(requestOrigin(url), url).toEqual({ origin: whole.origin, host: whole.host });
    }
  });
});
