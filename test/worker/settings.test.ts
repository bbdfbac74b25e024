import { describe, expect, it } from "vitest";
import { parseSettings } from "../../src/core/settings";

describe("settings", () => {
  it("has DOT-like defaults", () => {
    const s = parseSettings({});
    expect(s.ACCESS_TOKEN_EXPIRE_SECONDS).toBe(3600);
    expect(s.AUTHORIZATION_CODE_EXPIRE_SECONDS).toBe(60);
    expect(s.PKCE_REQUIRED).toBe("public");
    expect(s.ACCESS_TOKEN_SIGNING_ALG).toBe("ES256");
    expect(s.ROTATE_REFRESH_TOKEN).toBe(true);
    expect(s.DEFAULT_SCOPES).toEqual(["__all__"]);
    expect(Object.keys(s.SCOPES)).toEqual(["read", "write"]);
  });

  it("reads wrangler vars, which are strings", () => {
    const s = parseSettings({ ACCESS_TOKEN_EXPIRE_SECONDS: "600", ROTATE_REFRESH_TOKEN: "false", SCOPES: '{"a": "A"}', DEFAULT_SCOPES: "a" });
    expect(s).toMatchObject({ ACCESS_TOKEN_EXPIRE_SECONDS: 600, ROTATE_REFRESH_TOKEN: false, SCOPES: { a: "A" }, DEFAULT_SCOPES: ["a"] });
  });

  it("takes typed values from createProvider({ settings }): numbers, booleans, arrays, an object", () => {
    const s = parseSettings({ ACCESS_TOKEN_EXPIRE_SECONDS: 600, ROTATE_REFRESH_TOKEN: false, SCOPES: { a: "A", b: "B" }, DEFAULT_SCOPES: ["a", "b"], ALLOWED_HOSTS: ["x.example"] });
    expect(s).toMatchObject({ ACCESS_TOKEN_EXPIRE_SECONDS: 600, ROTATE_REFRESH_TOKEN: false, SCOPES: { a: "A", b: "B" }, DEFAULT_SCOPES: ["a", "b"], ALLOWED_HOSTS: ["x.example"] });
  });

  it("ignores unrelated env entries and empty values", () => {
    expect(parseSettings({ DB: {}, ISSUER: "" }).ISSUER).toBeUndefined();
  });

  it.each([
    ["ACCESS_TOKEN_EXPIRE_SECONDS", "soon"],
    ["ACCESS_TOKEN_EXPIRE_SECONDS", "-5"],
    ["PKCE_REQUIRED", "sometimes"],
    ["SCOPES", "{not json"],
    ["SCOPES", '{"bad scope": "x"}'],
    ["ISSUER", "ftp://example.com"],
    ["ACCESS_TOKEN_SIGNING_ALG", "none"],
    ["ROTATE_REFRESH_TOKEN", "maybe"],
  ])("names the variable when %s=%s is invalid", (name, value) => {
    expect(() => parseSettings({ [name]: value })).toThrow(new RegExp(`Invalid setting ${name}`));
  });
});
