import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { basic, createClient, postToken, storageOps } from "./support/helpers";
import { expectTokenError, expectTokens, REDIRECT } from "./support/flow";

/** A token with no user (client_credentials) never carries OpenID Connect scopes. */

const OIDC = ["openid", "profile", "email", "address", "phone", "offline_access"];
const RFC6749_DESCRIPTION = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

async function clientCredentials(credentials: { clientId: string; clientSecret: string }, scope?: string) {
  const fields: Record<string, string> = { grant_type: "client_credentials" };
  if (scope !== undefined) fields.scope = scope;
  return postToken(fields, { authorization: basic(credentials.clientId, credentials.clientSecret) });
}

describe("client_credentials and the scopes that need a user", () => {
  it("without scope, a client that registered the OIDC scopes gets only the others", async () => {
    const client = await createClient({ scope: `${OIDC.join(" ")} read` });
    const res = await clientCredentials(client);
    const body = await expectTokens(res);
    expect(body.scope).toBe("read");
    expect(decodeJwt(body.access_token).scope).toBe("read");
    const warm = await clientCredentials(client);
    await expectTokens(warm.clone());
    expect(storageOps(warm)).toEqual({ d1: 0, d1_statements: 0, kv: 0 });
  });

  it("without scope, a client that registered only OIDC scopes gets invalid_scope", async () => {
    const client = await createClient({ scope: "openid profile" });
    await expectTokenError(await clientCredentials(client), "invalid_scope");
  });

  it("an explicit OIDC scope is refused with invalid_scope, registered or not", async () => {
    const registered = await createClient({ scope: `${OIDC.join(" ")} read` });
    const signsInUsers = await createClient({
      grantTypes: ["authorization_code", "client_credentials"],
      redirectUris: [REDIRECT],
      scope: "read write",
    });
    for (const client of [registered, signsInUsers]) {
      for (const scope of [...OIDC, "read openid"]) {
        const body = await expectTokenError(await clientCredentials(client, scope), "invalid_scope");
        expect(body.error_description).toMatch(RFC6749_DESCRIPTION);
      }
      await expectTokens(await clientCredentials(client, "read"));
    }
  });

  it("a refused scope is not quoted back in error_description, and bad syntax gets RFC 6749 characters only", async () => {
    const client = await createClient({ scope: "read" });
    const body = await expectTokenError(await clientCredentials(client, "zz-not-a-scope"), "invalid_scope");
    expect(body.error_description).not.toContain("zz-not-a-scope");
    expect(body.error_description).toMatch(RFC6749_DESCRIPTION);
    const badSyntax = await expectTokenError(await clientCredentials(client, 'read "x"'), "invalid_scope");
    expect(badSyntax.error_description).toMatch(RFC6749_DESCRIPTION);
  });
});
