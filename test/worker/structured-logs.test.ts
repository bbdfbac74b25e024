import { env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createProvider } from "../../src/provider";
import { basic, createClient, ISSUER } from "./support/helpers";

/** Issue 10: logs are objects with named fields (Workers Logs indexes them), never bare strings. */
describe("structured logs", () => {
  afterEach(() => vi.restoreAllMocks());

  it("a misconfigured provider logs one object naming the problem; an event hook's failure too", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const misconfigured = createProvider({ settings: { ACCESS_TOKEN_EXPIRE_SECONDS: "soon" as unknown as number } });
    await misconfigured.request(`${ISSUER}/.well-known/jwks.json`, {}, env);
    const failing = createProvider({ events: () => Promise.reject(new Error("audit log down")) });
    const { clientId, clientSecret } = await createClient();
    const token = await failing.request(
      `${ISSUER}/token/`,
      { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(clientId, clientSecret) }, body: "grant_type=client_credentials" },
      env,
    );
    expect(token.status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 10)); // the hook's rejection is logged after the response
    const logged = errors.mock.calls.map((args) => args);
    for (const args of logged) {
      expect(args).toHaveLength(1);
      expect(typeof args[0]).toBe("object");
      expect(args[0]).toMatchObject({ level: "error", message: expect.any(String) });
    }
    const messages = logged.map((args) => (args[0] as { message: string }).message);
    expect(messages).toContain("server misconfigured");
    expect(logged.find((args) => (args[0] as { message: string }).message === "event hook failed")?.[0]).toMatchObject({
      event: "token.issued",
      error: { message: "audit log down" },
    });
  });
});
