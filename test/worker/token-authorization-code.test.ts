import { env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { revokedGrantKey } from "../../src/tokens/revocation";
import { createClient, postToken, storageOps } from "./support/helpers";
import {
  codeRequest,
  exchangeCode,
  expectTokenError,
  expectTokens,
  getCode,
  grantIdOf,
  refresh,
  REDIRECT,
  signedIn,
  type ClientCredentials,
} from "./support/flow";

/** RFC 6749 §4.1.3 and §4.1.2 (single use), RFC 7636 §4.6, RFC 9700 §4.2.4. */

const OTHER = "https://app.example.com/other";

async function confidentialClient(): Promise<ClientCredentials> {
  const { clientId, clientSecret } = await createClient({ grantTypes: ["authorization_code", "refresh_token"], redirectUris: [REDIRECT, OTHER] });
  return { clientId, clientSecret };
}

async function publicClient(): Promise<ClientCredentials> {
  const { clientId } = await createClient({ clientType: "public", grantTypes: ["authorization_code", "refresh_token"], redirectUris: [REDIRECT] });
  return { clientId, clientSecret: "" };
}

/** A client, a signed-in browser that approved it, and a fresh code. */
async function codeFor(client: ClientCredentials, extra: Record<string, string | undefined> = {}) {
  const { browser } = await signedIn();
  return { browser, code: await getCode(browser, codeRequest(client.clientId, extra)) };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("a valid exchange", () => {
  it("returns an access token and a refresh token, and stores nothing in KV", async () => {
    const client = await confidentialClient();
    const { code } = await codeFor(client, { scope: "read" });
    const res = await exchangeCode(client, code);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const body = await expectTokens(res);
    expect(body).toMatchObject({ token_type: "Bearer", scope: "read", expires_in: 3600 });
    expect(body.refresh_token).toBeTruthy();
  });

  it("costs at most one D1 round-trip (two statements) and no KV on a warm client cache", async () => {
    const client = await confidentialClient();
    const { code } = await codeFor(client);
    // Warm this isolate's client cache.
    await expectTokenError(await exchangeCode(client, "garbage"), "invalid_grant");
    const res = await exchangeCode(client, code);
    await expectTokens(res.clone());
    const ops = storageOps(res);
    expect(ops.d1).toBeLessThanOrEqual(1);
    expect(ops.d1_statements).toBeLessThanOrEqual(2);
    expect(ops.kv).toBe(0);
  });
});

describe("invalid codes: invalid_grant", () => {
  it("a garbage or tampered code", async () => {
    const client = await confidentialClient();
    const { code } = await codeFor(client);
    const flipped = (i: number) => code.slice(0, i) + (code[i] === "A" ? "B" : "A") + code.slice(i + 1);
    for (const bad of ["garbage", "A".repeat(120), flipped(0), flipped(Math.floor(code.length / 2)), flipped(code.length - 1), `${code}A`, code.slice(1), `${code}==`]) {
      await expectTokenError(await exchangeCode(client, bad), "invalid_grant");
    }
    // The genuine code still works: the failures above were about the code.
    await expectTokens(await exchangeCode(client, code));
  });

  it("an expired code", async () => {
    const client = await confidentialClient();
    const { browser, code } = await codeFor(client);
    const fresh = await getCode(browser, codeRequest(client.clientId));
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 61_000); // AUTHORIZATION_CODE_EXPIRE_SECONDS is 60
    const body = await expectTokenError(await exchangeCode(client, code), "invalid_grant");
    expect(body.error_description).toMatch(/expired/);
    vi.setSystemTime(Date.now() - 31_000); // 30 s after issue: still valid
    await expectTokens(await exchangeCode(client, fresh));
  });

  it("a code issued to another client (confidential or public)", async () => {
    const client = await confidentialClient();
    const other = await confidentialClient();
    const { code } = await codeFor(client);
    await expectTokenError(await exchangeCode(other, code), "invalid_grant");

    const pub = await publicClient();
    const otherPub = await publicClient();
    const { code: publicCode } = await codeFor(pub);
    await expectTokenError(await exchangeCode(otherPub, publicCode), "invalid_grant");
  });

  it("a redirect_uri other than the authorization request's, or none when it had one", async () => {
    const client = await confidentialClient();
    const { browser, code } = await codeFor(client);
    await expectTokenError(await exchangeCode(client, code, { redirect_uri: OTHER }), "invalid_grant");
    await expectTokenError(await exchangeCode(client, code, { redirect_uri: `${REDIRECT}/` }), "invalid_grant");
    await expectTokenError(await exchangeCode(client, code, { redirect_uri: undefined }), "invalid_grant");
    const second = await getCode(browser, codeRequest(client.clientId, { redirect_uri: OTHER }));
    await expectTokenError(await exchangeCode(client, second, { redirect_uri: REDIRECT }), "invalid_grant");
    await expectTokens(await exchangeCode(client, second, { redirect_uri: OTHER }));
  });
});

describe("client authentication (RFC 6749 §3.2.1)", () => {
  it("a confidential client without its secret: invalid_client", async () => {
    const client = await confidentialClient();
    const { code } = await codeFor(client);
    await expectTokenError(await exchangeCode({ clientId: client.clientId, clientSecret: "" }, code), "invalid_client");
    await expectTokenError(await exchangeCode({ clientId: client.clientId, clientSecret: "wrong" }, code), "invalid_client");
    await expectTokens(await exchangeCode(client, code));
  });

  it("a public client with its client_id only", async () => {
    const client = await publicClient();
    const { code } = await codeFor(client);
    const body = await expectTokens(await exchangeCode(client, code));
    expect(body.refresh_token).toBeTruthy();
  });

  it("a code without any client identification: invalid_client", async () => {
    const client = await publicClient();
    const { code } = await codeFor(client);
    await expectTokenError(await postToken({ grant_type: "authorization_code", code, redirect_uri: REDIRECT }), "invalid_client");
  });
});

const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** The same bytes spelled differently (an unused low bit of the last character set), when there is such a bit. */
function respelled(code: string): string | undefined {
  if (code.length % 4 !== 2 && code.length % 4 !== 3) return undefined;
  return code.slice(0, -1) + B64URL[B64URL.indexOf(code.at(-1)!) ^ 1];
}

describe("single use (RFC 6749 §4.1.2, RFC 9700 §4.2.4)", () => {
  it("another spelling of a used code is not a second code", async () => {
    const client = await confidentialClient();
    const { browser } = await signedIn();
    // Scopes of different lengths give codes of each length modulo 4; two of those have unused bits.
    let code = "";
    for (const scope of ["read", "write", "read write"]) {
      code = await getCode(browser, codeRequest(client.clientId, { scope }));
      if (respelled(code)) break;
    }
    const variant = respelled(code);
    expect(variant).toBeDefined();
    const first = await expectTokens(await exchangeCode(client, code));
    await expectTokenError(await exchangeCode(client, variant!), "invalid_grant");
    await expectTokens(await refresh(client, first.refresh_token!));
  });


  it("two concurrent redemptions: exactly one succeeds, and the winner's tokens are revoked", async () => {
    const client = await confidentialClient();
    const { code } = await codeFor(client);
    const responses = await Promise.all([exchangeCode(client, code), exchangeCode(client, code)]);
    const statuses = responses.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 400]);
    const winner = responses.find((r) => r.status === 200)!;
    const loser = responses.find((r) => r.status === 400)!;
    await expectTokenError(loser, "invalid_grant");
    const tokens = await expectTokens(winner);

    await expectTokenError(await refresh(client, tokens.refresh_token!), "invalid_grant");
    expect(await env.KV.get(revokedGrantKey(grantIdOf(tokens.access_token)))).not.toBeNull();
  });

  it("a later reuse fails too and revokes every token issued from the code, rotated ones included", async () => {
    const client = await confidentialClient();
    const { code } = await codeFor(client);
    const first = await expectTokens(await exchangeCode(client, code));
    const gid = grantIdOf(first.access_token);
    expect(await env.KV.get(revokedGrantKey(gid))).toBeNull();
    const rotated = await expectTokens(await refresh(client, first.refresh_token!));

    await expectTokenError(await exchangeCode(client, code), "invalid_grant");
    await expectTokenError(await refresh(client, rotated.refresh_token!), "invalid_grant");
    expect(await env.KV.get(revokedGrantKey(gid))).not.toBeNull();
  });
});
