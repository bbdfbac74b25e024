import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { createProvider } from "../../src/provider";
import { Browser, hiddenFields, redirectParams } from "./support/browser";
import { authorizeAndApprove, authorizeUrl, codeRequest, exchangeCode, expectConsentPage, getCode, PASSWORD, REDIRECT, signedIn } from "./support/flow";
import { createClient, ISSUER } from "./support/helpers";
import { AppBrowser, expectOidcTokens, oidcClient, oidcRequest, signedInOidc, userinfo } from "./support/oidc-helpers";

/** Issue #8, items 1, 3 and 17: what a consent covers, and when the consent page may be skipped. */

async function expectRedirect(browser: Browser, params: Record<string, string | undefined>) {
  const res = await browser.get(authorizeUrl(params));
  expect(res.status, await res.clone().text()).toBe(303);
  return redirectParams(res);
}

const CLAIMS = JSON.stringify({
  id_token: { email: null, phone_number: null, birthdate: { essential: true } },
  userinfo: { address: null, email: null },
});

describe("claims asked for with the claims parameter need consent (item 1)", () => {
  const consentingClient = () => oidcClient({ skipAuthorization: false });

  it("the consent page lists the claims beyond the scopes; once approved they are released", async () => {
    const { clientId, clientSecret } = await consentingClient();
    const { browser, email } = await signedInOidc("claims", { phone_number: "+1 555 0100", address: { locality: "Springfield" } });
    const request = oidcRequest(clientId, { claims: CLAIMS });
    const html = await expectConsentPage(browser, request);
    for (const shown of ["email", "phone_number", "address", "birthdate"]) expect(html).toContain(`<code>${shown}</code>`);
    const code = await getCode(browser, request);
    const tokens = await expectOidcTokens(await exchangeCode({ clientId, clientSecret }, code));
    expect(decodeJwt(tokens.id_token)).toMatchObject({ email, phone_number: "+1 555 0100" });
    const info = await (await userinfo(tokens.access_token)).json<Record<string, unknown>>();
    expect(info).toMatchObject({ email, address: { locality: "Springfield" } });
  });

  it("an approval of openid alone does not cover claims: prompt=none answers consent_required", async () => {
    const { clientId } = await consentingClient();
    const { browser } = await signedInOidc("claims");
    await getCode(browser, oidcRequest(clientId));
    const out = await expectRedirect(browser, oidcRequest(clientId, { claims: CLAIMS, prompt: "none" }));
    expect(out.get("error")).toBe("consent_required");
    expect(out.get("code")).toBeNull();
    expect(out.get("state")).toBe("st-oidc");
  });

  it("with approval_prompt=auto, new claims show the consent page again; approved claims are remembered", async () => {
    const { clientId } = await consentingClient();
    const { browser } = await signedInOidc("claims");
    await getCode(browser, oidcRequest(clientId, { approval_prompt: "auto" }));
    const html = await expectConsentPage(browser, oidcRequest(clientId, { claims: CLAIMS, approval_prompt: "auto" }));
    expect(html).toContain("<code>phone_number</code>");
    await getCode(browser, oidcRequest(clientId, { claims: CLAIMS, approval_prompt: "auto" }));
    expect((await expectRedirect(browser, oidcRequest(clientId, { claims: CLAIMS, prompt: "none" }))).get("code")).toBeTruthy();
  });

  it("claims covered by the granted scopes add nothing to approve", async () => {
    const { clientId } = await consentingClient();
    const { browser } = await signedInOidc("claims");
    await getCode(browser, oidcRequest(clientId, { scope: "openid email" }));
    const sameClaims = JSON.stringify({ id_token: { email: null, email_verified: null } });
    const out = await expectRedirect(browser, oidcRequest(clientId, { scope: "openid email", claims: sameClaims, prompt: "none" }));
    expect(out.get("code")).toBeTruthy();
  });
});

describe("public clients and loopback redirect URIs (item 3, RFC 8252 §7.3, §8.6)", () => {
  const NATIVE = "http://127.0.0.1:4000/callback";
  const nativeClient = (extra: Parameters<typeof createClient>[0] = {}) =>
    createClient({ clientType: "public", grantTypes: ["authorization_code"], redirectUris: [NATIVE], ...extra });

  it("an approval on one loopback port does not approve another: the page is shown, prompt=none is refused", async () => {
    const { clientId } = await nativeClient();
    const { browser } = await signedIn();
    await getCode(browser, codeRequest(clientId, { redirect_uri: NATIVE, approval_prompt: "auto" }));
    const otherPort = "http://127.0.0.1:5555/callback";
    await expectConsentPage(browser, codeRequest(clientId, { redirect_uri: otherPort, approval_prompt: "auto" }));
    const silent = await expectRedirect(browser, codeRequest(clientId, { redirect_uri: otherPort, prompt: "none" }));
    expect(silent.location.origin).toBe("http://127.0.0.1:5555");
    expect(silent.get("error")).toBe("consent_required");
    expect(silent.get("code")).toBeNull();
    // The port the user approved is still answered at once.
    expect((await expectRedirect(browser, codeRequest(clientId, { redirect_uri: NATIVE, prompt: "none" }))).get("code")).toBeTruthy();
  });

  it("a skip_authorization public client is answered without the user only on its registered URI", async () => {
    const { clientId } = await nativeClient({ skipAuthorization: true });
    const { browser } = await signedIn();
    expect((await expectRedirect(browser, codeRequest(clientId, { redirect_uri: NATIVE }))).get("code")).toBeTruthy();
    await expectConsentPage(browser, codeRequest(clientId, { redirect_uri: "http://127.0.0.1:6001/callback" }));
  });

  it("confidential clients match loopback redirect URIs exactly: another port is an error page", async () => {
    const { clientId } = await createClient({ grantTypes: ["authorization_code"], redirectUris: [NATIVE] });
    const { browser } = await signedIn();
    const res = await browser.get(authorizeUrl(codeRequest(clientId, { redirect_uri: "http://127.0.0.1:4001/callback" })));
    expect(res.status).toBe(400);
    expect(res.headers.get("location")).toBeNull();
  });

  it("a public web client (an SPA) matches exactly too; native is inferred only from loopback or custom-scheme URIs", async () => {
    const spa = await createClient({
      clientType: "public",
      grantTypes: ["authorization_code"],
      redirectUris: ["https://spa.example.com/cb", NATIVE],
    });
    expect(spa.client.applicationType).toBe("web");
    const { browser } = await signedIn();
    const res = await browser.get(authorizeUrl(codeRequest(spa.clientId, { redirect_uri: "http://127.0.0.1:4001/callback" })));
    expect(res.status).toBe(400);
    const app = await createClient({ clientType: "public", grantTypes: ["authorization_code"], redirectUris: ["com.example.app:/cb"] });
    expect(app.client.applicationType).toBe("native");
  });
});

describe("DOT's approval prompt (item 17)", () => {
  const publicClient = () => createClient({ clientType: "public", grantTypes: ["authorization_code"], redirectUris: [REDIRECT] });

  it("force, the default, shows the consent page again after an approval", async () => {
    const { clientId } = await publicClient();
    const { browser } = await signedIn();
    await getCode(browser, codeRequest(clientId));
    await expectConsentPage(browser, codeRequest(clientId));
  });

  it("prompt=none uses what was approved before, even with force", async () => {
    const { clientId } = await publicClient();
    const { browser } = await signedIn();
    expect((await expectRedirect(browser, codeRequest(clientId, { prompt: "none" }))).get("error")).toBe("consent_required");
    await getCode(browser, codeRequest(clientId));
    expect((await expectRedirect(browser, codeRequest(clientId, { prompt: "none" }))).get("code")).toBeTruthy();
  });

  it("approval_prompt=auto skips the page for what was approved; prompt=consent always asks", async () => {
    const { clientId } = await publicClient();
    const { browser } = await signedIn();
    await getCode(browser, codeRequest(clientId));
    expect((await expectRedirect(browser, codeRequest(clientId, { approval_prompt: "auto" }))).get("code")).toBeTruthy();
    await expectConsentPage(browser, codeRequest(clientId, { approval_prompt: "auto", prompt: "consent" }));
  });

  it("REQUEST_APPROVAL_PROMPT=auto makes auto the default; approval_prompt=force still asks", async () => {
    const app = createProvider({ settings: { REQUEST_APPROVAL_PROMPT: "auto" } });
    const { clientId } = await publicClient();
    const { username } = await signedIn();
    const browser = new AppBrowser(app);
    expect((await browser.login(username, PASSWORD)).status).toBe(200);
    const first = await authorizeAndApprove(browser, codeRequest(clientId));
    expect(redirectParams(first).get("code")).toBeTruthy();
    expect((await expectRedirect(browser, codeRequest(clientId))).get("code")).toBeTruthy();
    await expectConsentPage(browser, codeRequest(clientId, { approval_prompt: "force" }));
  });

  it("an unknown approval_prompt is an invalid_request sent to the client", async () => {
    const { clientId } = await publicClient();
    const { browser } = await signedIn();
    const out = await expectRedirect(browser, codeRequest(clientId, { approval_prompt: "sometimes" }));
    expect(out.get("error")).toBe("invalid_request");
    expect(out.get("iss")).toBe(ISSUER);
  });

  it("denying redirects with access_denied and state, and approves nothing", async () => {
    const { clientId } = await publicClient();
    const { browser } = await signedIn();
    const html = await expectConsentPage(browser, codeRequest(clientId));
    const res = await browser.post("/o/authorize/", { ...hiddenFields(html), cancel: "Cancel" });
    const out = redirectParams(res);
    expect(out.get("error")).toBe("access_denied");
    expect(out.get("state")).toBe("st-123");
    expect((await expectRedirect(browser, codeRequest(clientId, { prompt: "none" }))).get("error")).toBe("consent_required");
  });
});
