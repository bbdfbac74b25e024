import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { basic, BASE, createClient, postToken } from "./support/helpers";

/** Issue 10, interop kindness: what other ecosystems' client libraries send. */
describe("client authentication as other libraries send it", () => {
  it("a public client's id as Basic with an empty password (requests-oauthlib, simple-oauth2) is method none", async () => {
    const { clientId } = await createClient({ clientType: "public", grantTypes: ["refresh_token"] });
    // Method none is accepted: the refresh token is what is then refused, not the client.
    const res = await postToken({ grant_type: "refresh_token", refresh_token: "unknown" }, { authorization: basic(clientId, "") });
    const body = await res.json<{ error: string }>();
    expect(res.status).toBe(400);
    expect(body.error).toBe("invalid_grant");
  });

  it("a confidential client with an empty Basic password is refused: it must send its secret", async () => {
    const { clientId } = await createClient();
    const res = await postToken({ grant_type: "client_credentials" }, { authorization: basic(clientId, "") });
    expect(res.status).toBe(401);
    expect((await res.json<{ error: string }>()).error).toBe("invalid_client");
    expect(res.headers.get("www-authenticate")).toMatch(/^Basic /);
  });

  it("metadata lists only registered method names for introspection", async () => {
    const metadata = await (await SELF.fetch(`${BASE}/o/.well-known/openid-configuration`)).json<Record<string, string[]>>();
    expect(metadata.introspection_endpoint_auth_methods_supported).toEqual(["client_secret_basic", "client_secret_post", "private_key_jwt", "client_secret_jwt"]);
  });
});
