import { SELF } from "cloudflare:test";
import { createLocalJWKSet, createRemoteJWKSet, customFetch, decodeProtectedHeader, jwtVerify } from "jose";
import { describe, expect, it } from "vitest";
import { basic, BASE, createClient, ISSUER, postToken, storageOps } from "./support/helpers";

describe("client_credentials at /o/token/", () => {
  it("issues an RFC 9068 access token that verifies against the published JWKS", async () => {
    const { clientId, clientSecret } = await createClient();
    const res = await postToken({ grant_type: "client_credentials", scope: "read" }, { authorization: basic(clientId, clientSecret) });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const body = await res.json<Record<string, unknown>>();
    expect(body).toMatchObject({ token_type: "Bearer", expires_in: 3600, scope: "read" });
    expect(body.refresh_token).toBeUndefined();

    const token = body.access_token as string;
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: "ES256", typ: "at+jwt" });
    const jwks = createRemoteJWKSet(new URL(`${ISSUER}/.well-known/jwks.json`), {
      [customFetch]: (url: string, init: RequestInit) => SELF.fetch(url, init),
    });
    const { payload } = await jwtVerify(token, jwks, { issuer: ISSUER, audience: BASE, typ: "at+jwt" });
    expect(payload).toMatchObject({ sub: clientId, client_id: clientId, scope: "read" });
    expect(typeof payload.jti).toBe("string");
    expect(payload.exp! - payload.iat!).toBe(3600);
  });
});
