import { describe, expect, it } from "vitest";
import { registerUser } from "../../src/db/registration";
import { Browser, hiddenFields, redirectParams } from "./support/browser";
import { basic, createClient, db, ISSUER, postToken } from "./support/helpers";

const REDIRECT = "https://app.example.com/callback";
const VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

async function setup() {
  const username = `alice${crypto.randomUUID().slice(0, 8)}`;
  await registerUser(db(), { username, password: "correct horse battery" });
  const { clientId, clientSecret } = await createClient({
    grantTypes: ["authorization_code", "refresh_token"],
    redirectUris: [REDIRECT],
  });
  return { username, clientId, clientSecret };
}

describe("authorization code flow with PKCE", () => {
  it("logs in, asks consent, redirects with a code and iss, and exchanges it", async () => {
    const { username, clientId, clientSecret } = await setup();
    const browser = new Browser();
    const query = new URLSearchParams({
      response_type: "code",
      client_id: clientId,
      redirect_uri: REDIRECT,
      scope: "read",
      state: "xyz",
      code_challenge: CHALLENGE,
      code_challenge_method: "S256",
    });
    const first = await browser.get(`/o/authorize/?${query}`);
    expect(first.status).toBe(303);
    const loginUrl = first.headers.get("location")!;
    expect(loginUrl).toMatch(/^\/o\/login\/\?next=/);

    const loginPage = await browser.get(loginUrl);
    expect(loginPage.status).toBe(200);
    expect(loginPage.headers.get("x-frame-options")).toBe("DENY");
    expect(loginPage.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    const loginFields = hiddenFields(await loginPage.text());
    const loggedIn = await browser.post("/o/login/", { ...loginFields, username, password: "correct horse battery" });
    expect(loggedIn.status).toBe(303);

    const consent = await browser.get(loggedIn.headers.get("location")!);
    expect(consent.status).toBe(200);
    const html = await consent.text();
    expect(html).toContain("Test app");
    expect(html).toContain("Read your data");
    const decision = await browser.post("/o/authorize/", { ...hiddenFields(html), allow: "Authorize" });
    expect(decision.status).toBe(303);
    const params = redirectParams(decision);
    expect(`${params.location.origin}${params.location.pathname}`).toBe(REDIRECT);
    expect(params.get("state")).toBe("xyz");
    expect(params.get("iss")).toBe(ISSUER);
    const code = params.get("code")!;

    const token = await postToken(
      { grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: VERIFIER },
      { authorization: basic(clientId, clientSecret) },
    );
    if (token.status !== 200) console.log(await token.clone().text());
    expect(token.status).toBe(200);
    const body = await token.json<Record<string, string>>();
    expect(body).toMatchObject({ token_type: "Bearer", scope: "read" });
    expect(body.refresh_token).toBeTruthy();

    const refreshed = await postToken(
      { grant_type: "refresh_token", refresh_token: body.refresh_token! },
      { authorization: basic(clientId, clientSecret) },
    );
    if (refreshed.status !== 200) console.log(await refreshed.clone().text());
    expect(refreshed.status).toBe(200);

    // A second visit with DOT's approval_prompt=auto: consent is remembered (the default, force, asks again).
    const again = await browser.get(`/o/authorize/?${query}&approval_prompt=auto`);
    expect(again.status).toBe(303);
    expect(redirectParams(again).get("code")).toBeTruthy();
  });
});
