import { env } from "cloudflare:test";
import { decodeJwt } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { setUserActive } from "../../src/db/users";
import { createProvider } from "../../src/provider";
import { revokedGrantKey } from "../../src/tokens/revocation";
import { basic, BASE, createClient, db, form, storageOps } from "./support/helpers";
import {
  codeRequest,
  exchangeCode,
  expectTokenError,
  expectTokens,
  getCode,
  grantIdOf,
  newUser,
  PASSWORD,
  refresh,
  REDIRECT,
  signedIn,
  type ClientCredentials,
} from "./support/flow";

/** RFC 6749 §6 with rotation and reuse detection (OAuth 2.1 §4.3.1, RFC 9700 §4.14.2). */

afterEach(() => {
  vi.useRealTimers();
});

async function confidentialClient(grantTypes: ("authorization_code" | "refresh_token" | "password")[] = ["authorization_code", "refresh_token"]) {
  const { clientId, clientSecret } = await createClient({ grantTypes, redirectUris: [REDIRECT] });
  return { clientId, clientSecret };
}

/** Tokens from a real authorization code flow. */
async function tokensFor(client: ClientCredentials, scope = "read write") {
  const { browser, username } = await signedIn();
  const code = await getCode(browser, codeRequest(client.clientId, { scope }));
  return { username, ...(await expectTokens(await exchangeCode(client, code))) };
}

const revokedInKv = async (accessToken: string) => (await env.KV.get(revokedGrantKey(grantIdOf(accessToken)))) !== null;

describe("rotation and reuse", () => {
  it("each refresh returns a new refresh token; the old one then fails", async () => {
    const client = await confidentialClient();
    const first = await tokensFor(client);
    const second = await expectTokens(await refresh(client, first.refresh_token!));
    expect(second.refresh_token).toBeTruthy();
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect(second.access_token).not.toBe(first.access_token);
    expect(second).toMatchObject({ token_type: "Bearer", scope: "read write", expires_in: 3600 });
    await expectTokenError(await refresh(client, first.refresh_token!), "invalid_grant");
  });

  it("reuse of a rotated token revokes the whole family: the newest token fails too, and the access tokens", async () => {
    const client = await confidentialClient();
    const first = await tokensFor(client);
    const second = await expectTokens(await refresh(client, first.refresh_token!));
    const third = await expectTokens(await refresh(client, second.refresh_token!));
    expect(await revokedInKv(third.access_token)).toBe(false);

    await expectTokenError(await refresh(client, first.refresh_token!), "invalid_grant");
    await expectTokenError(await refresh(client, third.refresh_token!), "invalid_grant");
    expect(await revokedInKv(third.access_token)).toBe(true);
    expect(grantIdOf(third.access_token)).toBe(grantIdOf(first.access_token));
  });

  it("two concurrent refreshes with one token: exactly one succeeds", async () => {
    const client = await confidentialClient();
    const first = await tokensFor(client);
    const responses = await Promise.all([refresh(client, first.refresh_token!), refresh(client, first.refresh_token!)]);
    expect(responses.map((r) => r.status).sort()).toEqual([200, 400]);
    await expectTokenError(responses.find((r) => r.status === 400)!, "invalid_grant");
  });

  it("costs one D1 round-trip (one batch of two statements) and no KV, narrowed scope included", async () => {
    const client = await confidentialClient();
    const first = await tokensFor(client);
    const res = await refresh(client, first.refresh_token!);
    await expectTokens(res.clone());
    expect(storageOps(res)).toEqual({ d1: 1, d1_statements: 2, kv: 0 });
    const rotated = (await res.json<{ refresh_token: string }>()).refresh_token;
    const narrowed = await refresh(client, rotated, { scope: "read" });
    await expectTokens(narrowed.clone());
    expect(storageOps(narrowed)).toEqual({ d1: 1, d1_statements: 2, kv: 0 });
  });

  it("an unknown or expired refresh token: invalid_grant", async () => {
    const client = await confidentialClient();
    const first = await tokensFor(client);
    await expectTokenError(await refresh(client, "not-a-refresh-token"), "invalid_grant");
    await expectTokenError(await refresh(client, `${first.refresh_token}x`), "invalid_grant");
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 31 * 24 * 3600 * 1000); // REFRESH_TOKEN_EXPIRE_SECONDS defaults to 30 days
    await expectTokenError(await refresh(client, first.refresh_token!), "invalid_grant");
  });
});

describe("scope (RFC 6749 §6)", () => {
  it("may narrow; the token keeps the original grant, so a later refresh without scope gets it all", async () => {
    const client = await confidentialClient();
    const first = await tokensFor(client, "read write");
    const narrowed = await expectTokens(await refresh(client, first.refresh_token!, { scope: "read" }));
    expect(narrowed.scope).toBe("read");
    expect(decodeJwt(narrowed.access_token).scope).toBe("read");
    const full = await expectTokens(await refresh(client, narrowed.refresh_token!));
    expect(full.scope).toBe("read write");
  });

  it("may not widen: invalid_scope, and the token stays usable", async () => {
    const client = await confidentialClient();
    const first = await tokensFor(client, "read");
    await expectTokenError(await refresh(client, first.refresh_token!, { scope: "read write" }), "invalid_scope");
    await expectTokenError(await refresh(client, first.refresh_token!, { scope: "admin" }), "invalid_scope");
    const next = await expectTokens(await refresh(client, first.refresh_token!));
    expect(next.scope).toBe("read");
  });
});

describe("what a refresh token is bound to", () => {
  it("its client: another client gets invalid_grant", async () => {
    const client = await confidentialClient();
    const other = await confidentialClient();
    const first = await tokensFor(client);
    await expectTokenError(await refresh(other, first.refresh_token!), "invalid_grant");
  });

  it("an active user: once the user is disabled, invalid_grant", async () => {
    const client = await confidentialClient();
    const first = await tokensFor(client);
    await setUserActive(db(), first.username, false);
    await expectTokenError(await refresh(client, first.refresh_token!), "invalid_grant");
  });

  it("a client without the refresh_token grant gets no refresh token", async () => {
    const client = await confidentialClient(["authorization_code"]);
    const { refresh_token } = await tokensFor(client);
    expect(refresh_token).toBeUndefined();
  });
});

describe("settings", () => {
  async function passwordClient(app: ReturnType<typeof createProvider>, clientType: "confidential" | "public") {
    const { clientId, clientSecret } = await createClient({ clientType, grantTypes: ["password", "refresh_token"] });
    const client = { clientId, clientSecret };
    const token = (fields: Record<string, string>) =>
      app.request(
        `${BASE}/o/token/`,
        {
          method: "POST",
          headers: {
            "content-type": "application/x-www-form-urlencoded",
            ...(clientSecret ? { authorization: basic(clientId, clientSecret) } : {}),
          },
          body: form(clientSecret ? fields : { ...fields, client_id: clientId }),
        },
        env,
      );
    const { username } = await newUser();
    const first = await expectTokens(await token({ grant_type: "password", username, password: PASSWORD }));
    return { client, first, refresh: (rt: string) => token({ grant_type: "refresh_token", refresh_token: rt }) };
  }

  it("ROTATE_REFRESH_TOKEN=false: a confidential client keeps its token; a public client is still rotated", async () => {
    const app = createProvider({ settings: { ROTATE_REFRESH_TOKEN: false } });
    const conf = await passwordClient(app, "confidential");
    const again = await expectTokens(await conf.refresh(conf.first.refresh_token!));
    expect(again.refresh_token).toBe(conf.first.refresh_token);
    await expectTokens(await conf.refresh(conf.first.refresh_token!));

    const pub = await passwordClient(app, "public");
    const rotated = await expectTokens(await pub.refresh(pub.first.refresh_token!));
    expect(rotated.refresh_token).not.toBe(pub.first.refresh_token);
    await expectTokenError(await pub.refresh(pub.first.refresh_token!), "invalid_grant");
  });

  it("REFRESH_TOKEN_GRACE_PERIOD_SECONDS: a rotated token works again within it, and is reuse after it", async () => {
    const app = createProvider({ settings: { REFRESH_TOKEN_GRACE_PERIOD_SECONDS: 60 } });
    const { first, refresh: refreshWith } = await passwordClient(app, "confidential");
    const second = await expectTokens(await refreshWith(first.refresh_token!));
    const retried = await expectTokens(await refreshWith(first.refresh_token!));
    expect(retried.refresh_token).not.toBe(first.refresh_token);

    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 61_000);
    await expectTokenError(await refreshWith(first.refresh_token!), "invalid_grant");
    await expectTokenError(await refreshWith(second.refresh_token!), "invalid_grant");
    expect(await revokedInKv(second.access_token)).toBe(true);
  });

  it("the Worker's own provider is not affected by another provider's settings on the same env", async () => {
    const client = await confidentialClient();
    const first = await tokensFor(client);
    const second = await expectTokens(await refresh(client, first.refresh_token!));
    expect(second.refresh_token).not.toBe(first.refresh_token);
  });
});
