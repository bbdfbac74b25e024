import { env } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { clearExpired } from "../../src/db/cleanup";
import { hashSecret } from "../../src/core/crypto";
import { insertCodeRedemption } from "../../src/db/code-redemptions";
import { insertRefreshToken } from "../../src/db/refresh-tokens";
import { refreshTokens } from "../../src/db/schema";
import { parseSettings } from "../../src/core/settings";
import { sealCode } from "../../src/tokens/authorization-code";
import { revokedGrantKey } from "../../src/tokens/revocation";
import { createClient, db } from "./support/helpers";
import {
  CHALLENGE,
  codeRequest,
  exchangeCode,
  expectTokenError,
  expectTokens,
  getCode,
  grantIdOf,
  REDIRECT,
  refresh,
  signedIn,
  type ClientCredentials,
} from "./support/flow";

/** RFC 6749 §4.1.2: a code used twice revokes what it issued, also when the replay comes after the code expired. */

const secretKey = () => (env as unknown as { SECRET_KEY: string }).SECRET_KEY;

async function confidentialClient(): Promise<ClientCredentials> {
  const { clientId, clientSecret } = await createClient({ grantTypes: ["authorization_code", "refresh_token"], redirectUris: [REDIRECT] });
  return { clientId, clientSecret };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("an authorization code replayed after it expired", () => {
  it("is refused as already used and revokes the tokens of its first redemption, even after cleanup ran", async () => {
    const client = await confidentialClient();
    const { browser } = await signedIn();
    const code = await getCode(browser, codeRequest(client.clientId));
    const first = await expectTokens(await exchangeCode(client, code));
    const gid = grantIdOf(first.access_token);

    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 120_000); // AUTHORIZATION_CODE_EXPIRE_SECONDS is 60
    const now = Math.floor(Date.now() / 1000);
    await clearExpired(db(), parseSettings({}), now);

    const body = await expectTokenError(await exchangeCode(client, code), "invalid_grant");
    expect(body.error_description).toMatch(/already been used/);
    expect(await env.KV.get(revokedGrantKey(gid))).not.toBeNull();
    await expectTokenError(await refresh(client, first.refresh_token!), "invalid_grant");
  });

  it("revokes only for a replay that carries the code's bindings (client, redirect URI, PKCE verifier)", async () => {
    const client = await confidentialClient();
    const now = Math.floor(Date.now() / 1000);
    const grantId = crypto.randomUUID();
    const code = await sealCode(secretKey(), {
      grantId,
      clientId: client.clientId,
      userId: crypto.randomUUID(),
      redirectUri: REDIRECT,
      redirectUriSent: true,
      scope: ["read"],
      codeChallenge: CHALLENGE,
      codeChallengeMethod: "S256",
      authTime: now - 200,
      expiresAt: now - 100,
    });
    const refreshRow = {
      id: crypto.randomUUID(),
      tokenHash: `hash-${crypto.randomUUID()}`,
      grantId,
      clientId: client.clientId,
      userId: "user-1",
      scope: "read",
      createdAt: now - 160,
      expiresAt: now + 3600,
    };
    await db().batch([
      insertCodeRedemption(db(), { codeHash: await hashSecret(code), grantId, clientId: client.clientId, redeemedAt: now - 160, expiresAt: now - 100 }),
      insertRefreshToken(db(), refreshRow),
    ]);
    const revokedAt = async () => (await db().select().from(refreshTokens).where(eq(refreshTokens.id, refreshRow.id)).get())?.revokedAt;

    const other = await confidentialClient();
    await expectTokenError(await exchangeCode(other, code), "invalid_grant");
    await expectTokenError(await exchangeCode(client, code, { code_verifier: "x".repeat(43) }), "invalid_grant");
    await expectTokenError(await exchangeCode(client, code, { redirect_uri: "https://app.example.com/other" }), "invalid_grant");
    expect(await revokedAt()).toBeNull();
    expect(await env.KV.get(revokedGrantKey(grantId))).toBeNull();

    const body = await expectTokenError(await exchangeCode(client, code), "invalid_grant");
    expect(body.error_description).toMatch(/already been used/);
    expect(await revokedAt()).not.toBeNull();
    expect(await env.KV.get(revokedGrantKey(grantId))).not.toBeNull();
  });

  it("an expired code that was never redeemed is just expired, and revokes nothing", async () => {
    const client = await confidentialClient();
    const { browser } = await signedIn();
    const code = await getCode(browser, codeRequest(client.clientId));
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 61_000);
    const body = await expectTokenError(await exchangeCode(client, code), "invalid_grant");
    expect(body.error_description).toMatch(/expired/);
    expect(body.error_description).not.toMatch(/already been used/);
  });
});
