import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { setUserActive } from "../../src/db/users";
import { Browser, hiddenFields } from "./support/browser";
import { basic, createClient, db, postToken } from "./support/helpers";
import { expectTokenError, expectTokens, newUser, PASSWORD, tokenRequest, type ClientCredentials } from "./support/flow";

/** RFC 6749 §4.3 (kept for DOT parity): only for clients allowed it, with throttled guesses. */

async function passwordClient(grantTypes: ("password" | "refresh_token" | "client_credentials")[] = ["password", "refresh_token"]) {
  const { clientId, clientSecret } = await createClient({ grantTypes });
  return { clientId, clientSecret };
}

const passwordGrant = (client: ClientCredentials, username: string, password: string, extra: Record<string, string> = {}) =>
  tokenRequest(client, { grant_type: "password", username, password, ...extra });

describe("password grant", () => {
  it("issues an access token for the user and a refresh token", async () => {
    const client = await passwordClient();
    const { username, id } = await newUser();
    const res = await passwordGrant(client, username, PASSWORD, { scope: "read" });
    expect(res.headers.get("cache-control")).toBe("no-store");
    const body = await expectTokens(res);
    expect(body).toMatchObject({ token_type: "Bearer", expires_in: 3600, scope: "read" });
    expect(body.refresh_token).toBeTruthy();
    expect(decodeJwt(body.access_token)).toMatchObject({ sub: id, client_id: client.clientId, scope: "read" });
    await expectTokens(await tokenRequest(client, { grant_type: "refresh_token", refresh_token: body.refresh_token! }));
  });

  it("no refresh token for a client without the refresh_token grant", async () => {
    const client = await passwordClient(["password"]);
    const { username } = await newUser();
    const body = await expectTokens(await passwordGrant(client, username, PASSWORD));
    expect(body.refresh_token).toBeUndefined();
  });

  it("a client not allowed the grant: unauthorized_client, even with the right password", async () => {
    const client = await passwordClient(["client_credentials"]);
    const { username } = await newUser();
    await expectTokenError(await passwordGrant(client, username, PASSWORD), "unauthorized_client");
  });

  it("a confidential client without its secret: invalid_client", async () => {
    const client = await passwordClient();
    const { username } = await newUser();
    await expectTokenError(await passwordGrant({ clientId: client.clientId, clientSecret: "" }, username, PASSWORD), "invalid_client");
  });

  it("a wrong password, an unknown user or a disabled user: invalid_grant", async () => {
    const client = await passwordClient();
    const { username } = await newUser();
    await expectTokenError(await passwordGrant(client, username, "wrong password"), "invalid_grant");
    await expectTokenError(await passwordGrant(client, `nobody${username}`, PASSWORD), "invalid_grant");
    const disabled = await newUser("disabled");
    await setUserActive(db(), disabled.username, false);
    await expectTokenError(await passwordGrant(client, disabled.username, PASSWORD), "invalid_grant");
  });

  it("missing username or password: invalid_request; an unknown scope: invalid_scope", async () => {
    const client = await passwordClient();
    const { username } = await newUser();
    await expectTokenError(await tokenRequest(client, { grant_type: "password", username }), "invalid_request");
    await expectTokenError(await tokenRequest(client, { grant_type: "password", password: PASSWORD }), "invalid_request");
    await expectTokenError(await passwordGrant(client, username, PASSWORD, { scope: "admin" }), "invalid_scope");
  });
});

describe("throttling of password guesses", () => {
  it("after 5 failures from one address the right password is refused too (invalid_grant); after 4 it is not; other addresses are not locked", async () => {
    const client = await passwordClient();
    const four = await newUser("four");
    for (let i = 0; i < 4; i++) await expectTokenError(await passwordGrant(client, four.username, "wrong password"), "invalid_grant");
    await expectTokens(await passwordGrant(client, four.username, PASSWORD));

    const { username } = await newUser("locked");
    for (let i = 0; i < 5; i++) await expectTokenError(await passwordGrant(client, username, "wrong password"), "invalid_grant");
    await expectTokenError(await passwordGrant(client, username, PASSWORD), "invalid_grant");
    const fromElsewhere = await postToken(
      { grant_type: "password", username, password: PASSWORD },
      { authorization: basic(client.clientId, client.clientSecret), "cf-connecting-ip": "192.0.2.20" },
    );
    await expectTokens(fromElsewhere);
  });

  it("failures count together with the login form's (from the same address)", async () => {
    const client = await passwordClient();
    const { username } = await newUser("shared");
    for (let i = 0; i < 5; i++) await expectTokenError(await passwordGrant(client, username, "wrong password"), "invalid_grant");
    const browser = new Browser();
    const form = hiddenFields(await (await browser.get("/o/login/")).text());
    const res = await browser.post("/o/login/", { ...form, username, password: PASSWORD });
    expect(res.status).toBe(429);
  });
});
