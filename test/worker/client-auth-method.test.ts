import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { basic, BASE, createClient, form, postToken } from "./support/helpers";

/** A client authenticates only with its registered `token_endpoint_auth_method` (RFC 7591 §2). */

const ENDPOINTS = {
  token: { path: "/o/token/", fields: { grant_type: "client_credentials" } },
  revocation: { path: "/o/revoke_token/", fields: { token: "some-token" } },
  introspection: { path: "/o/introspect/", fields: { token: "some-token" } },
};

/** RFC 6749 §5.2: %x20-21 / %x23-5B / %x5D-7E. */
const RFC6749_DESCRIPTION = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

function post(path: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
  return SELF.fetch(`${BASE}${path}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: form(fields),
  });
}

async function expectInvalidClient(res: Response) {
  const text = await res.text();
  expect(res.status, text).toBe(401);
  expect(res.headers.get("www-authenticate")).toMatch(/^Basic realm="/);
  const body = JSON.parse(text) as { error: string; error_description: string };
  expect(body.error).toBe("invalid_client");
  expect(body.error_description).toMatch(RFC6749_DESCRIPTION);
  return body;
}

describe("registered client authentication method", () => {
  for (const [name, { path, fields }] of Object.entries(ENDPOINTS)) {
    it(`a client_secret_basic client may not use client_secret_post at the ${name} endpoint`, async () => {
      const { clientId, clientSecret } = await createClient();
      const body = await expectInvalidClient(await post(path, { ...fields, client_id: clientId, client_secret: clientSecret }));
      expect(body.error_description).toContain("client_secret_basic");
      expect((await post(path, fields, { authorization: basic(clientId, clientSecret) })).status).toBe(200);
    });

    it(`a client_secret_post client may not use client_secret_basic at the ${name} endpoint`, async () => {
      const { clientId, clientSecret } = await createClient({ tokenEndpointAuthMethod: "client_secret_post" });
      const body = await expectInvalidClient(await post(path, fields, { authorization: basic(clientId, clientSecret) }));
      expect(body.error_description).toContain("client_secret_post");
      expect((await post(path, { ...fields, client_id: clientId, client_secret: clientSecret })).status).toBe(200);
    });
  }

  it("a wrong method is refused before the secret is looked at (same answer for a wrong secret)", async () => {
    const { clientId } = await createClient();
    await expectInvalidClient(await postToken({ grant_type: "client_credentials", client_id: clientId, client_secret: "wrong" }));
  });

  it("every invalid_client 401 carries a challenge: unknown client_id in the body, no credentials, public client with a secret", async () => {
    await expectInvalidClient(await postToken({ grant_type: "client_credentials", client_id: "no-such-client", client_secret: "x" }));
    await expectInvalidClient(await postToken({ grant_type: "client_credentials", client_id: 'quote"and\\backslash-é' }));
    await expectInvalidClient(await postToken({ grant_type: "client_credentials" }));
    const { clientId } = await createClient({ clientType: "public", grantTypes: ["authorization_code"], redirectUris: ["https://app.example/cb"] });
    await expectInvalidClient(await postToken({ grant_type: "authorization_code", client_id: clientId, client_secret: "x" }));
  });

  it("the discovery document still lists both secret methods", async () => {
    const res = await SELF.fetch(`${BASE}/o/.well-known/openid-configuration`);
    const doc = await res.json<{ token_endpoint_auth_methods_supported: string[] }>();
    expect(doc.token_endpoint_auth_methods_supported).toEqual(expect.arrayContaining(["client_secret_basic", "client_secret_post"]));
  });
});
