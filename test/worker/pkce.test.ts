import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { redirectParams } from "./support/browser";
import { BASE, createClient } from "./support/helpers";
import {
  authorizeUrl,
  CHALLENGE,
  codeRequest,
  exchangeCode,
  expectTokenError,
  expectTokens,
  getCode,
  REDIRECT,
  signedIn,
  VERIFIER,
  type ClientCredentials,
} from "./support/flow";

/** RFC 7636 §4.5-4.6, RFC 9700 §2.1.1 (downgrade), OAuth 2.1 §4.1.1 (public clients must use PKCE). */

async function publicClient(): Promise<ClientCredentials> {
  const { clientId } = await createClient({ clientType: "public", grantTypes: ["authorization_code"], redirectUris: [REDIRECT] });
  return { clientId, clientSecret: "" };
}

async function confidentialClient(): Promise<ClientCredentials> {
  const { clientId, clientSecret } = await createClient({ grantTypes: ["authorization_code"], redirectUris: [REDIRECT] });
  return { clientId, clientSecret };
}

const OTHER_VERIFIER = "A".repeat(43);

describe("the verifier at the token endpoint", () => {
  it("RFC 7636 Appendix B: the example verifier matches the example S256 challenge", async () => {
    const client = await publicClient();
    const { browser } = await signedIn();
    const code = await getCode(browser, codeRequest(client.clientId, { code_challenge: CHALLENGE, code_challenge_method: "S256" }));
    await expectTokens(await exchangeCode(client, code, { code_verifier: VERIFIER }));
  });

  it("a wrong verifier, one of the wrong syntax, or the challenge itself: invalid_grant", async () => {
    const client = await publicClient();
    const { browser } = await signedIn();
    const code = await getCode(browser, codeRequest(client.clientId));
    for (const code_verifier of [OTHER_VERIFIER, VERIFIER.slice(0, 42), `${VERIFIER}+`, `${VERIFIER} `, CHALLENGE, VERIFIER.toUpperCase()]) {
      await expectTokenError(await exchangeCode(client, code, { code_verifier }), "invalid_grant");
    }
    await expectTokens(await exchangeCode(client, code, { code_verifier: VERIFIER }));
  });

  it("a missing verifier when the request had a challenge: invalid_grant (confidential clients too)", async () => {
    for (const client of [await publicClient(), await confidentialClient()]) {
      const { browser } = await signedIn();
      const code = await getCode(browser, codeRequest(client.clientId));
      await expectTokenError(await exchangeCode(client, code, { code_verifier: undefined }), "invalid_grant");
      await expectTokens(await exchangeCode(client, code));
    }
  });

  it("a verifier when the request had no challenge (downgrade): invalid_grant", async () => {
    const client = await confidentialClient();
    const { browser } = await signedIn();
    const request = codeRequest(client.clientId, { code_challenge: undefined, code_challenge_method: undefined });
    const code = await getCode(browser, request);
    await expectTokenError(await exchangeCode(client, code, { code_verifier: VERIFIER }), "invalid_grant");
    await expectTokens(await exchangeCode(client, code, { code_verifier: undefined }));
  });
});

describe("public clients (OAuth 2.1 §2.1, §4.1.1)", () => {
  it("must send a code_challenge by default", async () => {
    const client = await publicClient();
    const request = codeRequest(client.clientId, { code_challenge: undefined, code_challenge_method: undefined });
    const res = await SELF.fetch(`${BASE}${authorizeUrl(request)}`, { redirect: "manual" });
    expect(res.status).toBe(303);
    const params = redirectParams(res);
    expect(`${params.location.origin}${params.location.pathname}`).toBe(REDIRECT);
    expect(params.get("error")).toBe("invalid_request");
  });

  it("authenticate with `none`: client_id alone, no secret", async () => {
    const client = await publicClient();
    const { browser } = await signedIn();
    const code = await getCode(browser, codeRequest(client.clientId));
    await expectTokenError(await exchangeCode({ ...client, clientSecret: "made-up" }, code), "invalid_client");
    await expectTokens(await exchangeCode(client, code));
  });

  it("a confidential client may omit PKCE when PKCE_REQUIRED is `public` (the default)", async () => {
    const client = await confidentialClient();
    const { browser } = await signedIn();
    const code = await getCode(browser, codeRequest(client.clientId, { code_challenge: undefined, code_challenge_method: undefined }));
    await expectTokens(await exchangeCode(client, code, { code_verifier: undefined }));
  });
});
