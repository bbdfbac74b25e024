import { describe, expect, it } from "vitest";
import { Browser, hiddenFields, redirectParams } from "./support/browser";
import { ISSUER } from "./support/helpers";
import { authorizeAndApprove, authorizeUrl, exchangeCode, isConsentPage, PASSWORD } from "./support/flow";
import { expectOidcTokens, oidcClient, oidcRequest, oidcUser, signedInOidc, signWithServerKey, unsignedJwt, verifyIdToken } from "./support/oidc-helpers";

/** OIDC Core §3.1.2.1 authentication request parameters: prompt, max_age, login_hint, id_token_hint. */

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function expectLoginRedirect(res: Response): string {
  expect(res.status).toBe(303);
  const location = res.headers.get("location")!;
  expect(location).toMatch(/^\/o\/login\/\?/);
  return location;
}

function expectAuthorizationError(res: Response, error: string) {
  expect(res.status).toBe(303);
  const params = redirectParams(res);
  expect(params.get("error")).toBe(error);
  expect(params.get("state")).toBe("st-oidc");
  expect(params.get("iss")).toBe(ISSUER);
  expect(params.get("code")).toBeNull();
}

/** Follows a login redirect: signs in on the page it names, then returns to the authorization request. */
async function signInThere(browser: Browser, loginLocation: string, username: string): Promise<Response> {
  const page = await browser.get(loginLocation);
  expect(page.status).toBe(200);
  const login = await browser.post("/o/login/", { ...hiddenFields(await page.text()), username, password: PASSWORD });
  expect(login.status).toBe(303);
  return browser.get(login.headers.get("location")!);
}

async function idTokenFor(browser: Browser, clientId: string): Promise<string> {
  const params = redirectParams(await browser.get(authorizeUrl(oidcRequest(clientId, { response_type: "id_token" }))));
  return params.get("id_token")!;
}

describe("prompt=none", () => {
  it("not signed in: login_required, to the redirect URI", async () => {
    const { clientId } = await oidcClient();
    expectAuthorizationError(await new Browser().get(authorizeUrl(oidcRequest(clientId, { prompt: "none" }))), "login_required");
  });

  it("signed in, no consent yet: consent_required", async () => {
    const { clientId } = await oidcClient({ skipAuthorization: false });
    const { browser } = await signedInOidc();
    expectAuthorizationError(await browser.get(authorizeUrl(oidcRequest(clientId, { prompt: "none" }))), "consent_required");
  });

  it("signed in with remembered consent: the code at once, without any page", async () => {
    const { clientId } = await oidcClient({ skipAuthorization: false });
    const { browser } = await signedInOidc();
    const approved = await authorizeAndApprove(browser, oidcRequest(clientId, { scope: "openid profile" }));
    expect(redirectParams(approved).get("code")).toBeTruthy();
    const res = await browser.get(authorizeUrl(oidcRequest(clientId, { prompt: "none", scope: "openid profile" })));
    expect(res.status).toBe(303);
    expect(redirectParams(res).get("code")).toBeTruthy();
    // A wider scope than was approved needs consent again.
    expectAuthorizationError(await browser.get(authorizeUrl(oidcRequest(clientId, { prompt: "none", scope: "openid email" }))), "consent_required");
  });

  for (const other of ["login", "consent", "select_account"]) {
    it(`none combined with ${other}: invalid_request`, async () => {
      const { clientId } = await oidcClient();
      const { browser } = await signedInOidc();
      expectAuthorizationError(await browser.get(authorizeUrl(oidcRequest(clientId, { prompt: `none ${other}` }))), "invalid_request");
    });
  }

  it("an unknown prompt value: invalid_request", async () => {
    const { clientId } = await oidcClient();
    const { browser } = await signedInOidc();
    expectAuthorizationError(await browser.get(authorizeUrl(oidcRequest(clientId, { prompt: "sometimes" }))), "invalid_request");
  });
});

describe("prompt=login, consent, select_account", () => {
  it("login: the login page even when signed in; after signing in, a code with the new auth_time", async () => {
    const client = await oidcClient();
    const { browser, username } = await signedInOidc();
    const before = (await verifyIdToken(await idTokenFor(browser, client.clientId), client.clientId)).payload;
    await sleep(1100);
    const location = expectLoginRedirect(await browser.get(authorizeUrl(oidcRequest(client.clientId, { prompt: "login" }))));
    const back = await signInThere(browser, location, username);
    const code = redirectParams(back).get("code")!;
    expect(code).toBeTruthy();
    const tokens = await expectOidcTokens(await exchangeCode(client, code));
    const after = (await verifyIdToken(tokens.id_token, client.clientId)).payload;
    expect(after.auth_time).toBeGreaterThan(before.auth_time as number);
    expect(after.sid).not.toBe(before.sid);
  });

  it("consent: the consent page again even with remembered consent, and even for a client that skips it", async () => {
    for (const skipAuthorization of [false, true]) {
      const { clientId } = await oidcClient({ skipAuthorization });
      const { browser } = await signedInOidc();
      if (!skipAuthorization) await authorizeAndApprove(browser, oidcRequest(clientId));
      const res = await browser.get(authorizeUrl(oidcRequest(clientId, { prompt: "consent" })));
      expect(isConsentPage(res, await res.text()), `skipAuthorization=${skipAuthorization}`).toBe(true);
    }
  });

  it("select_account: the login page", async () => {
    const { clientId } = await oidcClient();
    const { browser, username } = await signedInOidc();
    const location = expectLoginRedirect(await browser.get(authorizeUrl(oidcRequest(clientId, { prompt: "select_account" }))));
    expect(redirectParams(await signInThere(browser, location, username)).get("code")).toBeTruthy();
  });

  it("select_account: signing in as another user there answers for that user", async () => {
    const client = await oidcClient();
    const { browser } = await signedInOidc();
    const other = await oidcUser();
    const location = expectLoginRedirect(await browser.get(authorizeUrl(oidcRequest(client.clientId, { prompt: "select_account" }))));
    const code = redirectParams(await signInThere(browser, location, other.username)).get("code")!;
    const tokens = await expectOidcTokens(await exchangeCode(client, code));
    expect((await verifyIdToken(tokens.id_token, client.clientId)).payload.sub).toBe(other.id);
  });
});

describe("max_age", () => {
  it("max_age=0 after a second: the login page; a fresh sign-in satisfies it, with auth_time in the ID token", async () => {
    const client = await oidcClient();
    const { browser, username } = await signedInOidc();
    await sleep(1100);
    const location = expectLoginRedirect(await browser.get(authorizeUrl(oidcRequest(client.clientId, { max_age: "0" }))));
    const signInAt = Math.floor(Date.now() / 1000);
    const code = redirectParams(await signInThere(browser, location, username)).get("code")!;
    const tokens = await expectOidcTokens(await exchangeCode(client, code));
    const { payload } = await verifyIdToken(tokens.id_token, client.clientId);
    expect(payload.auth_time).toBeGreaterThanOrEqual(signInAt);
  });

  it("max_age=1 after two seconds: login (and login_required with prompt=none); a generous max_age does not", async () => {
    const { clientId } = await oidcClient();
    const { browser } = await signedInOidc();
    await sleep(2100);
    expectLoginRedirect(await browser.get(authorizeUrl(oidcRequest(clientId, { max_age: "1" }))));
    expectAuthorizationError(await browser.get(authorizeUrl(oidcRequest(clientId, { max_age: "1", prompt: "none" }))), "login_required");
    expect(redirectParams(await browser.get(authorizeUrl(oidcRequest(clientId, { max_age: "3600" })))).get("code")).toBeTruthy();
  });

  it("a max_age that is not a non-negative integer: invalid_request", async () => {
    const { clientId } = await oidcClient();
    const { browser } = await signedInOidc();
    for (const maxAge of ["-1", "1.5", "soon"]) {
      expectAuthorizationError(await browser.get(authorizeUrl(oidcRequest(clientId, { max_age: maxAge }))), "invalid_request");
    }
  });
});

describe("login_hint", () => {
  it("pre-fills the username field of the login page (escaped)", async () => {
    const { clientId } = await oidcClient();
    const browser = new Browser();
    const location = expectLoginRedirect(await browser.get(authorizeUrl(oidcRequest(clientId, { login_hint: 'jane"<x>' }))));
    const html = await (await browser.get(location)).text();
    expect(html).toMatch(/<input id="username"[^>]*value="jane&quot;&lt;x&gt;"/);
  });

  it("is only a hint: another user may sign in", async () => {
    const { clientId } = await oidcClient();
    const browser = new Browser();
    const user = await oidcUser();
    const location = expectLoginRedirect(await browser.get(authorizeUrl(oidcRequest(clientId, { login_hint: "someone-else" }))));
    expect(redirectParams(await signInThere(browser, location, user.username)).get("code")).toBeTruthy();
  });
});

describe("id_token_hint", () => {
  it("an ID token of the signed-in user: answered without any page, also with prompt=none", async () => {
    const { clientId } = await oidcClient();
    const { browser } = await signedInOidc();
    const hint = await idTokenFor(browser, clientId);
    for (const prompt of [undefined, "none"]) {
      const res = await browser.get(authorizeUrl(oidcRequest(clientId, { id_token_hint: hint, prompt })));
      expect(redirectParams(res).get("code"), String(prompt)).toBeTruthy();
    }
  });

  it("a pairwise client's hint names the user by the pairwise sub", async () => {
    const { clientId } = await oidcClient({ subjectType: "pairwise" });
    const { browser, id } = await signedInOidc();
    const hint = await idTokenFor(browser, clientId);
    expect((await verifyIdToken(hint, clientId)).payload.sub).not.toBe(id);
    expect(redirectParams(await browser.get(authorizeUrl(oidcRequest(clientId, { id_token_hint: hint, prompt: "none" })))).get("code")).toBeTruthy();
  });

  it("an expired ID token is still a valid hint", async () => {
    const { clientId } = await oidcClient();
    const { browser, id } = await signedInOidc();
    const long = Math.floor(Date.now() / 1000) - 30 * 24 * 3600;
    const hint = await signWithServerKey({ iss: ISSUER, sub: id, aud: clientId, iat: long, exp: long + 3600 });
    expect(redirectParams(await browser.get(authorizeUrl(oidcRequest(clientId, { id_token_hint: hint, prompt: "none" })))).get("code")).toBeTruthy();
  });

  it("another user's hint: login_required with prompt=none, else the login page", async () => {
    const { clientId } = await oidcClient();
    const other = await signedInOidc();
    const hint = await idTokenFor(other.browser, clientId);
    const { browser } = await signedInOidc();
    expectAuthorizationError(await browser.get(authorizeUrl(oidcRequest(clientId, { id_token_hint: hint, prompt: "none" }))), "login_required");
    const location = expectLoginRedirect(await browser.get(authorizeUrl(oidcRequest(clientId, { id_token_hint: hint }))));
    // Signing in as the hinted user completes the request.
    expect(redirectParams(await signInThere(browser, location, other.username)).get("code")).toBeTruthy();
  });

  it("not signed in with a valid hint and prompt=none: login_required", async () => {
    const { clientId } = await oidcClient();
    const { browser } = await signedInOidc();
    const hint = await idTokenFor(browser, clientId);
    expectAuthorizationError(await new Browser().get(authorizeUrl(oidcRequest(clientId, { id_token_hint: hint, prompt: "none" }))), "login_required");
  });

  it("garbage, unsigned, foreign-issuer, other-client and access-token hints: invalid_request", async () => {
    const { clientId } = await oidcClient();
    const other = await oidcClient();
    const { browser, id } = await signedInOidc();
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: ISSUER, sub: id, aud: clientId, iat: now, exp: now + 600 };
    const accessToken = redirectParams(
      await browser.get(authorizeUrl(oidcRequest(clientId, { response_type: "id_token token" }))),
    ).get("access_token")!;
    const hints: [string, string][] = [
      ["garbage", "not.a.jwt"],
      ["unsigned", unsignedJwt(claims)],
      ["foreign issuer", await signWithServerKey({ ...claims, iss: "https://evil.example.com/o" })],
      ["other client", await idTokenFor(browser, other.clientId)],
      ["access token", accessToken],
      ["tampered", (await idTokenFor(browser, clientId)).replace(/\.([^.]+)\./, (_, body: string) => `.${body.slice(0, -2)}AA.`)],
    ];
    for (const [label, hint] of hints) {
      const res = await browser.get(authorizeUrl(oidcRequest(clientId, { id_token_hint: hint })));
      expect(redirectParams(res).get("error"), label).toBe("invalid_request");
    }
  });
});
