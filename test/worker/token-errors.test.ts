import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { forgetCachedClient } from "../../src/db/clients";
import { basic, BASE, createClient, postToken, storageOps } from "./support/helpers";

async function expectError(res: Response, status: number, error: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get("cache-control")).toBe("no-store");
  const body = await res.json<{ error: string; error_description: string }>();
  expect(body.error).toBe(error);
  expect(body.error_description.length).toBeGreaterThan(5);
  return body;
}

describe("token endpoint errors (RFC 6749 §5.2)", () => {
  it("rejects a missing grant_type", async () => {
    const { clientId, clientSecret } = await createClient();
    await expectError(await postToken({ scope: "read" }, { authorization: basic(clientId, clientSecret) }), 400, "invalid_request");
  });

  it("rejects an unknown grant_type", async () => {
    const { clientId, clientSecret } = await createClient();
    const res = await postToken({ grant_type: "urn:example:nope" }, { authorization: basic(clientId, clientSecret) });
    await expectError(res, 400, "unsupported_grant_type");
  });

  it("rejects a repeated parameter", async () => {
    const { clientId, clientSecret } = await createClient();
    const res = await postToken("grant_type=client_credentials&scope=read&scope=write", { authorization: basic(clientId, clientSecret) });
    const body = await expectError(res, 400, "invalid_request");
    expect(body.error_description).toContain("scope");
  });

  it("rejects a wrong content type", async () => {
    const { clientId, clientSecret } = await createClient();
    const res = await SELF.fetch(`${BASE}/o/token/`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: basic(clientId, clientSecret) },
      body: JSON.stringify({ grant_type: "client_credentials" }),
    });
    await expectError(res, 400, "invalid_request");
  });

  it("rejects a body without content type", async () => {
    const res = await SELF.fetch(`${BASE}/o/token/`, { method: "POST", body: "grant_type=client_credentials" });
    await expectError(res, 400, "invalid_request");
  });

  it("rejects malformed percent-encoding and invalid UTF-8", async () => {
    const { clientId, clientSecret } = await createClient();
    const auth = { authorization: basic(clientId, clientSecret) };
    await expectError(await postToken("grant_type=client_credentials&scope=%zz", auth), 400, "invalid_request");
    await expectError(await postToken("grant_type=client_credentials&scope=%C3%28", auth), 400, "invalid_request");
    const rawInvalid = await SELF.fetch(`${BASE}/o/token/`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", ...auth },
      body: new Uint8Array([0x67, 0x3d, 0xff, 0xfe]),
    });
    await expectError(rawInvalid, 400, "invalid_request");
  });

  it("rejects an oversized body with 413", async () => {
    const { clientId, clientSecret } = await createClient();
    const res = await postToken(`grant_type=client_credentials&scope=${"a".repeat(70 * 1024)}`, {
      authorization: basic(clientId, clientSecret),
    });
    await expectError(res, 413, "invalid_request");
  });

  it("answers an unknown client with 401 invalid_client and a Basic challenge", async () => {
    const res = await postToken({ grant_type: "client_credentials" }, { authorization: basic("nope", "secret") });
    await expectError(res, 401, "invalid_client");
    expect(res.headers.get("www-authenticate")).toMatch(/^Basic /);
  });

  it("answers a wrong secret with 401 invalid_client and a challenge (Basic and post)", async () => {
    const { clientId } = await createClient();
    const viaBasic = await postToken({ grant_type: "client_credentials" }, { authorization: basic(clientId, "wrong") });
    await expectError(viaBasic, 401, "invalid_client");
    expect(viaBasic.headers.get("www-authenticate")).toMatch(/^Basic /);

    // Every 401 carries WWW-Authenticate (RFC 9110 §15.5.2), also for client_secret_post.
    const { clientId: postClientId } = await createClient({ tokenEndpointAuthMethod: "client_secret_post" });
    const viaPost = await postToken({ grant_type: "client_credentials", client_id: postClientId, client_secret: "wrong" });
    await expectError(viaPost, 401, "invalid_client");
    expect(viaPost.headers.get("www-authenticate")).toMatch(/^Basic /);
  });

  it("accepts client_secret_post from a client registered for it", async () => {
    const { clientId, clientSecret } = await createClient({ tokenEndpointAuthMethod: "client_secret_post" });
    const res = await postToken({ grant_type: "client_credentials", client_id: clientId, client_secret: clientSecret });
    expect(res.status).toBe(200);
  });

  it("decodes form-encoded Basic credentials (RFC 6749 §2.3.1)", async () => {
    const { clientId, clientSecret } = await createClient();
    // Our secrets are base64url; '-' and '_' must survive the form-decoding of the Basic parts.
    const res = await postToken({ grant_type: "client_credentials" }, { authorization: basic(clientId, clientSecret) });
    expect(res.status).toBe(200);
    const percentEncodedId = `Basic ${btoa(`${clientId.replace(/./, (ch) => `%${ch.charCodeAt(0).toString(16)}`)}:${clientSecret}`)}`;
    expect((await postToken({ grant_type: "client_credentials" }, { authorization: percentEncodedId })).status).toBe(200);
  });

  it("rejects malformed Basic headers with 401 and a challenge", async () => {
    for (const header of ["Basic", "Basic !!!", `Basic ${btoa("no-colon")}`, `Basic ${btoa(":secret")}`, `Basic ${btoa("%zz:x")}`]) {
      const res = await postToken({ grant_type: "client_credentials" }, { authorization: header });
      await expectError(res, 401, "invalid_client");
      expect(res.headers.get("www-authenticate")).toMatch(/^Basic /);
    }
  });

  it("rejects two authentication methods at once", async () => {
    const { clientId, clientSecret } = await createClient();
    const res = await postToken(
      { grant_type: "client_credentials", client_secret: clientSecret },
      { authorization: basic(clientId, clientSecret) },
    );
    await expectError(res, 400, "invalid_request");
  });

  it("rejects a client_id in the body that differs from the Basic one", async () => {
    const { clientId, clientSecret } = await createClient();
    const res = await postToken({ grant_type: "client_credentials", client_id: "other" }, { authorization: basic(clientId, clientSecret) });
    await expectError(res, 400, "invalid_request");
  });

  it("requires client authentication", async () => {
    const res = await postToken({ grant_type: "client_credentials" });
    await expectError(res, 401, "invalid_client");
    expect(res.headers.get("www-authenticate")).toMatch(/^Basic /);
  });

  it("requires the secret of a confidential client", async () => {
    const { clientId } = await createClient();
    await expectError(await postToken({ grant_type: "client_credentials", client_id: clientId }), 401, "invalid_client");
  });

  it("never reads client credentials from the query string", async () => {
    const { clientId, clientSecret } = await createClient();
    const res = await SELF.fetch(`${BASE}/o/token/?client_id=${clientId}&client_secret=${clientSecret}`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "grant_type=client_credentials",
    });
    await expectError(res, 400, "invalid_request");
  });

  it("answers unauthorized_client when the client may not use the grant", async () => {
    const { clientId, clientSecret } = await createClient({ grantTypes: ["authorization_code"], redirectUris: ["https://app.example/cb"] });
    const res = await postToken({ grant_type: "client_credentials" }, { authorization: basic(clientId, clientSecret) });
    await expectError(res, 400, "unauthorized_client");
  });

  it("does not let a public client use client_credentials", async () => {
    const { clientId } = await createClient({ clientType: "public", grantTypes: ["authorization_code"], redirectUris: ["https://app.example/cb"] });
    const res = await postToken({ grant_type: "client_credentials", client_id: clientId });
    await expectError(res, 400, "unauthorized_client");
  });

  it("does not let a public client send a secret", async () => {
    const { clientId } = await createClient({ clientType: "public", grantTypes: ["authorization_code"], redirectUris: ["https://app.example/cb"] });
    const res = await postToken({ grant_type: "client_credentials", client_id: clientId, client_secret: "x" });
    await expectError(res, 401, "invalid_client");
  });

  it("answers invalid_scope for a scope outside the client's allowed scopes", async () => {
    const { clientId, clientSecret } = await createClient({ scope: "read" });
    const auth = { authorization: basic(clientId, clientSecret) };
    await expectError(await postToken({ grant_type: "client_credentials", scope: "write" }, auth), 400, "invalid_scope");
    await expectError(await postToken({ grant_type: "client_credentials", scope: "read admin" }, auth), 400, "invalid_scope");
    await expectError(await postToken({ grant_type: "client_credentials", scope: 'read "x"' }, auth), 400, "invalid_scope");
    await expectError(await postToken({ grant_type: "client_credentials", scope: "constructor" }, auth), 400, "invalid_scope");
  });

  it("grants the client's scopes when none is requested", async () => {
    const { clientId, clientSecret } = await createClient({ scope: "read write" });
    const res = await postToken({ grant_type: "client_credentials" }, { authorization: basic(clientId, clientSecret) });
    expect(await res.json()).toMatchObject({ scope: "read write" });
  });

  it("answers other methods with 405 and an RFC error", async () => {
    const res = await SELF.fetch(`${BASE}/o/token/`);
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("POST, OPTIONS");
    expect(await res.json()).toMatchObject({ error: "invalid_request" });
  });

  it("serves the endpoint without the trailing slash too", async () => {
    const { clientId, clientSecret } = await createClient();
    const res = await SELF.fetch(`${BASE}/o/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(clientId, clientSecret) },
      body: "grant_type=client_credentials",
    });
    expect(res.status).toBe(200);
  });
});

describe("storage round-trips of client_credentials", () => {
  it("makes one D1 query on a cold cache and none on a warm isolate", async () => {
    const { clientId, clientSecret } = await createClient();
    forgetCachedClient();
    const auth = { authorization: basic(clientId, clientSecret) };
    const cold = await postToken({ grant_type: "client_credentials" }, auth);
    expect(cold.status).toBe(200);
    expect(storageOps(cold)).toEqual({ d1: 1, d1_statements: 1, kv: 0 });
    const warm = await postToken({ grant_type: "client_credentials" }, auth);
    expect(warm.status).toBe(200);
    expect(storageOps(warm)).toEqual({ d1: 0, d1_statements: 0, kv: 0 });
  });

  it("a wrong secret on a warm isolate costs at most one query (a re-read in case the secret was rotated), then none", async () => {
    const { clientId, clientSecret } = await createClient();
    await postToken({ grant_type: "client_credentials" }, { authorization: basic(clientId, clientSecret) });
    const first = await postToken({ grant_type: "client_credentials" }, { authorization: basic(clientId, "wrong") });
    expect(first.status).toBe(401);
    expect(storageOps(first).d1).toBeLessThanOrEqual(1);
    const res = await postToken({ grant_type: "client_credentials" }, { authorization: basic(clientId, "wrong") });
    expect(res.status).toBe(401);
    expect(storageOps(res).d1).toBe(0);
  });
});
