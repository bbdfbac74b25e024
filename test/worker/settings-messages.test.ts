import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { config, type core } from "zod/mini";
import { parseSettings, SettingsError } from "../../src/core/settings";

// Settings use zod/mini, which loads no locale: without English messages passed to the parse, every
// problem would read "Invalid input". Other modules (or the embedding Worker) may set zod's global
// config, so these run with it emptied and check that parseSettings leaves it alone.
describe("settings messages without a global zod locale", () => {
  let saved: Partial<core.$ZodConfig>;
  beforeEach(() => {
    saved = { ...config() };
    config({ localeError: undefined, customError: undefined });
  });
  afterEach(() => {
    config(saved);
  });

  function messageOf(raw: Record<string, unknown>): string {
    try {
      parseSettings(raw);
    } catch (err) {
      expect(err).toBeInstanceOf(SettingsError);
      return (err as SettingsError).message;
    }
    throw new Error(`parseSettings accepted ${JSON.stringify(raw)}`);
  }

  it.each([
    [{ ACCESS_TOKEN_EXPIRE_SECONDS: "soon" }, "ACCESS_TOKEN_EXPIRE_SECONDS: Invalid input: expected number, received NaN"],
    [{ ACCESS_TOKEN_EXPIRE_SECONDS: "-5" }, "ACCESS_TOKEN_EXPIRE_SECONDS: Too small: expected number to be >0"],
    [{ ACCESS_TOKEN_EXPIRE_SECONDS: "1.5" }, "ACCESS_TOKEN_EXPIRE_SECONDS: Invalid input: expected int, received number"],
    [{ CLIENT_CACHE_SECONDS: "-1" }, "CLIENT_CACHE_SECONDS: Too small: expected number to be >=0"],
    [{ PKCE_REQUIRED: "sometimes" }, 'PKCE_REQUIRED: Invalid option: expected one of "public"|"all"'],
    [{ ISSUER: "ftp://example.com" }, "ISSUER: Invalid URL"],
    [{ SCOPES: "[1]" }, "SCOPES: Invalid input: expected record, received array"],
    [{ SCOPES: '{"a": 1}' }, "SCOPES.a: Invalid input: expected string, received number"],
  ])("%j: %s", (raw, problem) => {
    expect(messageOf(raw)).toBe(`Invalid setting ${problem}`);
  });

  it("keeps the settings' own messages", () => {
    expect(messageOf({ SECRET_KEY: "short" })).toBe("Invalid setting SECRET_KEY: must be at least 32 characters of random text");
    expect(messageOf({ SCOPES: "{not json" })).toBe('Invalid setting SCOPES: must be a JSON object such as {"read": "Reading scope"}');
  });

  it("names every setting at fault, in one message", () => {
    const message = messageOf({ LOGIN_MAX_FAILURES: "abc", PKCE_REQUIRED: "x" });
    expect(message).toContain("LOGIN_MAX_FAILURES: Invalid input: expected number");
    expect(message).toContain('PKCE_REQUIRED: Invalid option: expected one of "public"|"all"');
  });

  it("leaves zod's global configuration as it found it", () => {
    const embedderMessages = () => "the embedding Worker's message";
    config({ localeError: embedderMessages });
    messageOf({ PKCE_REQUIRED: "x" });
    expect(config().localeError).toBe(embedderMessages);
  });
});
