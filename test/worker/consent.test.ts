import { describe, expect, it } from "vitest";
import { Browser, hiddenFields, redirectParams } from "./support/browser";
import { createClient, ISSUER } from "./support/helpers";
import { authorizeUrl, codeRequest, expectConsentPage, getCode, REDIRECT, signedIn } from "./support/flow";

/** The consent page: deny, CSRF, remembered approvals (DOT's "approval prompt auto"), prompt=consent. */

async function expectCodeAtOnce(browser: Browser, params: Record<string, string | undefined>) {
  const res = await browser.get(authorizeUrl(params));
  expect(res.status).toBe(303);
  const out = redirectParams(res);
  expect(`${out.location.origin}${out.location.pathname}`).toBe(REDIRECT);
  expect(out.get("code")).toBeTruthy();
  expect(out.get("state")).toBe(params.state ?? null);
  expect(out.get("iss")).toBe(ISSUER);
}

const newClient = async (extra: Parameters<typeof createClient>[0] = {}) =>
  (await createClient({ clientType: "public", grantTypes: ["authorization_code"], redirectUris: [REDIRECT], ...extra })).clientId;

describe("the decision", () => {
  it("shows the client and the scopes' descriptions", async () => {
    const clientId = await newClient({ name: "Photo printer" });
    const { browser } = await signedIn();
    const html = await expectConsentPage(browser, codeRequest(clientId));
    expect(html).toContain("Photo printer");
    expect(html).toContain("Read your data");
    expect(html).toContain("Change your data");
  });

  it("cancel: access_denied to the client with state and iss, no code, nothing remembered", async () => {
    const clientId = await newClient();
    const { browser } = await signedIn();
    const html = await expectConsentPage(browser, codeRequest(clientId));
    const res = await browser.post("/o/authorize/", { ...hiddenFields(html), cancel: "Cancel" });
    expect(res.status).toBe(303);
    const out = redirectParams(res);
    expect(`${out.location.origin}${out.location.pathname}`).toBe(REDIRECT);
    expect(out.get("error")).toBe("access_denied");
    expect(out.get("error_description")).toBeTruthy();
    expect(out.get("state")).toBe("st-123");
    expect(out.get("iss")).toBe(ISSUER);
    expect(out.get("code")).toBeNull();
    await expectConsentPage(browser, codeRequest(clientId));
  });

  it("neither allow nor cancel counts as a denial", async () => {
    const clientId = await newClient();
    const { browser } = await signedIn();
    const html = await expectConsentPage(browser, codeRequest(clientId));
    const res = await browser.post("/o/authorize/", hiddenFields(html));
    expect(res.status).toBe(303);
    expect(redirectParams(res).get("error")).toBe("access_denied");
  });

  it.each<[string, (fields: Record<string, string>) => Record<string, string>, Record<string, string>]>([
    ["without the CSRF token", ({ csrfmiddlewaretoken: _, ...rest }) => rest, {}],
    ["with a wrong CSRF token", (fields) => ({ ...fields, csrfmiddlewaretoken: "A".repeat(43) }), {}],
    ["from a foreign Origin", (fields) => fields, { origin: "https://evil.example" }],
  ])("an approval %s: a 403 page, no code, nothing remembered", async (_, change, headers) => {
    const clientId = await newClient();
    const { browser } = await signedIn();
    const html = await expectConsentPage(browser, codeRequest(clientId));
    const res = await browser.post("/o/authorize/", { ...change(hiddenFields(html)), allow: "Authorize" }, headers);
    expect(res.status).toBe(403);
    expect(res.headers.get("location")).toBeNull();
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await res.text()).not.toContain("code=");
    await expectConsentPage(browser, codeRequest(clientId));
  });

  it("an approval posted by a browser that is not signed in leads to the login page, no code", async () => {
    const clientId = await newClient();
    const { browser } = await signedIn();
    const html = await expectConsentPage(browser, codeRequest(clientId));
    const stranger = new Browser();
    for (const [name, value] of browser.cookies) if (!name.includes("session")) stranger.cookies.set(name, value);
    const res = await stranger.post("/o/authorize/", { ...hiddenFields(html), allow: "Authorize" });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toMatch(/^\/o\/login\//);
  });
});

describe("remembered approvals (approval_prompt=auto)", () => {
  const auto = (clientId: string, extra: Record<string, string> = {}) => codeRequest(clientId, { approval_prompt: "auto", ...extra });

  it("a second visit answers at once; prompt=consent asks again", async () => {
    const clientId = await newClient();
    const { browser } = await signedIn();
    await getCode(browser, auto(clientId));
    await expectCodeAtOnce(browser, auto(clientId));
    await expectCodeAtOnce(browser, auto(clientId, { scope: "read" }));
    await expectConsentPage(browser, auto(clientId, { prompt: "consent" }));
  });

  it("an approval is for one user and one client", async () => {
    const clientId = await newClient();
    const otherClient = await newClient();
    const alice = await signedIn("alice");
    await getCode(alice.browser, auto(clientId));
    await expectConsentPage(alice.browser, auto(otherClient));
    const bob = await signedIn("bob");
    await expectConsentPage(bob.browser, auto(clientId));
  });

  it("a scope not approved before asks again; once approved, both are remembered", async () => {
    const clientId = await newClient();
    const { browser } = await signedIn();
    await getCode(browser, auto(clientId, { scope: "read" }));
    const html = await expectConsentPage(browser, auto(clientId, { scope: "read write" }));
    expect(html).toContain("Change your data");
    await expectConsentPage(browser, auto(clientId, { scope: "write" }));
    await getCode(browser, auto(clientId, { scope: "read write" }));
    await expectCodeAtOnce(browser, auto(clientId, { scope: "write" }));
  });

  it("a client with skip_authorization never shows the page", async () => {
    const clientId = await newClient({ skipAuthorization: true });
    const { browser } = await signedIn();
    await expectCodeAtOnce(browser, auto(clientId));
    await expectCodeAtOnce(browser, auto(clientId, { state: "again" }));
  });
});
