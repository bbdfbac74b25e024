import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { Browser, hiddenFields } from "./support/browser";
import {
  codeRequest,
  exchangeCode,
  expectConsentPage,
  expectTokenError,
  expectTokens,
  getCode,
  grantIdOf,
  PASSWORD,
  refresh,
  REDIRECT,
  newUser,
  signedIn,
  type ClientCredentials,
  type TokenBody,
} from "./support/flow";
import { basic, BASE, createClient, db, form, ISSUER } from "./support/helpers";
import { registerClient } from "../../src/db/registration";
import { approvalQuery, NOTHING_APPROVED, saveApproval } from "../../src/db/consents";
import { userClientNotBeforeKey } from "../../src/tokens/revocation";
import type { ProviderEvent } from "../../src/core/events";
import { createProvider } from "../../src/provider";
import { AppBrowser } from "./support/oidc-helpers";

/**
 * DOT's authorized-tokens page: a signed-in user sees the applications they authorized and
 * revokes one; its refresh and access tokens stop working and the consent is forgotten.
 */

const LIST = "/o/authorized_tokens/";
const revokePath = (clientId: string) => `${LIST}${encodeURIComponent(clientId)}/delete/`;

const api = (token: string) => SELF.fetch(`${BASE}/api/me`, { headers: { authorization: `Bearer ${token}` } });
const introspect = async (client: ClientCredentials, token: string) => {
  const res = await SELF.fetch(`${ISSUER}/introspect/`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(client.clientId, client.clientSecret) },
    body: form({ token }),
  });
  return ((await res.json()) as { active: boolean }).active;
};

type User = Awaited<ReturnType<typeof signedIn>>;

type GrantType = "authorization_code" | "refresh_token";
const appClient = (name: string, grantTypes: GrantType[] = ["authorization_code", "refresh_token"]) =>
  createClient({ name, grantTypes, redirectUris: [REDIRECT] });

/** The user authorizes the client through the consent page and the client redeems the code. */
async function authorize(user: User, client: ClientCredentials): Promise<TokenBody> {
  const code = await getCode(user.browser, codeRequest(client.clientId));
  return expectTokens(await exchangeCode(client, code));
}

async function expectWorking(client: ClientCredentials, tokens: TokenBody) {
  expect((await api(tokens.access_token)).status).toBe(200);
  expect(await introspect(client, tokens.access_token)).toBe(true);
}

async function expectRevoked(client: ClientCredentials, tokens: TokenBody) {
  const res = await api(tokens.access_token);
  expect(res.status).toBe(401);
  expect(res.headers.get("www-authenticate")).toContain('error="invalid_token"');
  expect(await introspect(client, tokens.access_token)).toBe(false);
  if (tokens.refresh_token) await expectTokenError(await refresh(client, tokens.refresh_token), "invalid_grant");
}

/** The confirmation page's form fields (with the CSRF token). */
async function confirmationFields(browser: Browser, clientId: string): Promise<Record<string, string>> {
  const page = await browser.get(revokePath(clientId));
  expect(page.status).toBe(200);
  const fields = hiddenFields(await page.text());
  expect(fields.csrfmiddlewaretoken).toBeTruthy();
  return fields;
}

async function revokeFromPage(browser: Browser, clientId: string): Promise<Response> {
  return browser.post(revokePath(clientId), await confirmationFields(browser, clientId));
}

describe("authorized tokens: the list", () => {
  it("sends a visitor who is not signed in to the login page, and back to the list afterwards", async () => {
    for (const path of [LIST, "/o/authorized_tokens"]) {
      const res = await SELF.fetch(`${BASE}${path}`, { redirect: "manual" });
      expect(res.status).toBe(303);
      const location = new URL(res.headers.get("location")!, BASE);
      expect(location.pathname).toBe("/o/login/");
      expect(location.searchParams.get("next")).toBe(LIST);
    }
    const user = await signedIn("tokensnext");
    const browser = new Browser();
    const loginPage = await browser.get(`/o/login/?next=${encodeURIComponent(LIST)}`);
    const fields = hiddenFields(await loginPage.text());
    expect(fields.next).toBe(LIST);
    const res = await browser.post("/o/login/", { ...fields, username: user.username, password: PASSWORD });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(LIST);
    expect((await browser.get(LIST)).status).toBe(200);
  });

  it("the confirmation page also sends a visitor to the login page and back", async () => {
    const client = await appClient("Next app");
    const res = await SELF.fetch(`${BASE}${revokePath(client.clientId)}`, { redirect: "manual" });
    expect(res.status).toBe(303);
    expect(new URL(res.headers.get("location")!, BASE).searchParams.get("next")).toBe(revokePath(client.clientId));
  });

  it.each(["/o/authorized_tokens/../../evil", "/o/authorized_tokens/%2e%2e/%2E%2E/evil", "/o/authorized_tokensx/", "//evil.example/o/authorized_tokens/"])(
    "login ignores next=%s",
    async (next) => {
      const page = await new Browser().get(`/o/login/?next=${encodeURIComponent(next)}`);
      expect(hiddenFields(await page.text()).next).toBeUndefined();
    },
  );

  it("shows exactly the user's authorizations: names, scopes as the consent page describes them, dates", async () => {
    const user = await signedIn("lister");
    const other = await signedIn("otherlister");
    const mine = await appClient("Mine & Co <app>");
    const theirs = await appClient("Theirs only");
    await authorize(user, mine);
    await authorize(other, theirs);

    const res = await user.browser.get(LIST);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(res.headers.get("cache-control")).toBe("no-store");
    const html = await res.text();
    expect(html).toContain("Mine &amp; Co &lt;app&gt;");
    expect(html).not.toContain("Theirs only");
    expect(html).not.toContain(theirs.clientId);
    expect(html).toContain(`action="${revokePath(mine.clientId)}"`);
    expect(html).toContain('aria-label="Revoke Mine &amp; Co &lt;app&gt;"');
    expect(html).toMatch(/<code>read<\/code>/);
    expect(html).toMatch(/<code>write<\/code>/);
    expect(html).toMatch(/Authorized <time datetime="\d{4}-\d\d-\d\dT/);
    expect(html).toContain("tokens last issued");
    expect(html).toContain('name="viewport"');
  });

  it("lists nothing for a user who authorized nothing", async () => {
    const user = await signedIn("nothing");
    const html = await (await user.browser.get("/o/authorized_tokens")).text();
    expect(html).toContain("You have not authorized any application.");
    expect(html).not.toContain("Revoke");
  });
});

describe("authorized tokens: revoking", () => {
  it("refuses a POST without the CSRF token or with a wrong one, and revokes nothing", async () => {
    const user = await signedIn("csrf");
    const client = await appClient("CSRF app");
    const tokens = await authorize(user, client);
    const fields = await confirmationFields(user.browser, client.clientId);
    const wrongForms: Record<string, string>[] = [{}, { csrfmiddlewaretoken: "x".repeat(43) }];
    for (const sent of wrongForms) {
      const res = await user.browser.post(revokePath(client.clientId), sent);
      expect(res.status).toBe(403);
      expect(await res.text()).toContain("did not come from this site");
    }
    // The right token from another site (Origin) is refused too.
    const crossSite = await user.browser.post(revokePath(client.clientId), fields, { origin: "https://evil.example" });
    expect(crossSite.status).toBe(403);
    await expectWorking(client, tokens);
    expect((await refresh(client, tokens.refresh_token!)).status).toBe(200);
    expect(await (await user.browser.get(LIST)).text()).toContain("CSRF app");
  });

  it("a GET of the revoke path only asks: nothing is revoked", async () => {
    const user = await signedIn("getonly");
    const client = await appClient("Ask first app");
    const tokens = await authorize(user, client);
    const page = await user.browser.get(revokePath(client.clientId).slice(0, -1));
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain("Revoke Ask first app?");
    expect(html).toContain(`<form method="post" action="${revokePath(client.clientId)}"`);
    await expectWorking(client, tokens);
  });

  it("revokes the client's refresh and access tokens, forgets the consent, and leaves other clients and users alone", async () => {
    const user = await signedIn("revoker");
    const bystander = await signedIn("bystander");
    const client = await appClient("Revoked app");
    const otherClient = await appClient("Kept app");
    const tokens = await authorize(user, client);
    const refreshed = await expectTokens(await refresh(client, tokens.refresh_token!));
    const keptClient = await authorize(user, otherClient);
    const keptUser = await authorize(bystander, client);
    await expectWorking(client, refreshed);

    const res = await revokeFromPage(user.browser, client.clientId);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`${LIST}?revoked=1`);
    const list = await (await user.browser.get(res.headers.get("location")!)).text();
    expect(list).toContain("Access revoked");
    expect(list).not.toContain("Revoked app");
    expect(list).toContain("Kept app");

    await expectRevoked(client, refreshed);
    await expectRevoked(client, tokens);
    // The consent is gone: the next authorization asks again.
    await expectConsentPage(user.browser, codeRequest(client.clientId));
    // The same user's other client, and another user of the same client, keep theirs.
    await expectWorking(otherClient, keptClient);
    expect((await refresh(otherClient, keptClient.refresh_token!)).status).toBe(200);
    await expectWorking(client, keptUser);
    expect((await refresh(client, keptUser.refresh_token!)).status).toBe(200);
    // Revoking again: nothing is left to revoke.
    const again = await user.browser.post(revokePath(client.clientId), { csrfmiddlewaretoken: await csrfTokenOf(user.browser) });
    expect(again.status).toBe(404);
  });

  it("also revokes the access token of a grant that had no refresh token, through the user-and-client note", async () => {
    const user = await signedIn("norefresh");
    const client = await appClient("No refresh app", ["authorization_code"]);
    const tokens = await authorize(user, client);
    expect(tokens.refresh_token).toBeUndefined();
    await expectWorking(client, tokens);
    expect((await revokeFromPage(user.browser, client.clientId)).status).toBe(303);
    expect(await env.KV.get(userClientNotBeforeKey(user.id, client.clientId))).toMatch(/^\d+$/);
    // No grant note: only the user-and-client note can reach this token.
    expect(await env.KV.get(`revoked:grant:${grantIdOf(tokens.access_token)}`)).toBeNull();
    await expectRevoked(client, tokens);
  });

  it("a pairwise client's token (user sealed in usr) is revoked too", async () => {
    const user = await signedIn("pairwise");
    const client = await createClient({ name: "Pairwise app", grantTypes: ["authorization_code"], redirectUris: [REDIRECT], subjectType: "pairwise" });
    const tokens = await authorize(user, client);
    await expectWorking(client, tokens);
    expect((await revokeFromPage(user.browser, client.clientId)).status).toBe(303);
    await expectRevoked(client, tokens);
  });

  it("another user's client, an unknown client and a client the user never authorized are 404, and nothing is revoked", async () => {
    const user = await signedIn("prober");
    const owner = await signedIn("owner");
    const client = await appClient("Someone else's app");
    const tokens = await authorize(owner, client);
    for (const clientId of [client.clientId, "no-such-client"]) {
      const page = await user.browser.get(revokePath(clientId));
      expect(page.status).toBe(404);
      expect(page.headers.get("x-frame-options")).toBe("DENY");
      const post = await user.browser.post(revokePath(clientId), { csrfmiddlewaretoken: await csrfTokenOf(user.browser) });
      expect(post.status).toBe(404);
    }
    await expectWorking(client, tokens);
    expect((await refresh(client, tokens.refresh_token!)).status).toBe(200);
    expect(await env.KV.get(userClientNotBeforeKey(user.id, client.clientId))).toBeNull();
  });
});

describe("authorized tokens: a client whose id is a URL (a client ID metadata document)", () => {
  it("is listed, and revoked through its percent-encoded path", async () => {
    const user = await signedIn("urlclient");
    const clientId = `https://docs.example.com/${crypto.randomUUID()}/client.json`;
    await registerClient(db(), { name: "Document app", clientType: "public", grantTypes: ["authorization_code"], redirectUris: [REDIRECT] }, { id: clientId });
    await saveApproval(db(), user.id, clientId, { ...NOTHING_APPROVED, scopes: ["read"] }, NOTHING_APPROVED);
    expect(await (await user.browser.get(LIST)).text()).toContain(`action="${revokePath(clientId)}"`);
    expect((await revokeFromPage(user.browser, clientId)).status).toBe(303);
    expect(await approvalQuery(db(), user.id, clientId)).toEqual([]);
    expect(await env.KV.get(userClientNotBeforeKey(user.id, clientId))).toMatch(/^\d+$/);
  });
});

describe("authorized tokens: events", () => {
  it("a revocation tells authorization.revoked once, with the client and the user", async () => {
    const events: ProviderEvent[] = [];
    const app = createProvider({ events: (event) => void events.push(event) });
    const browser = new AppBrowser(app);
    const user = await newUser("evented");
    expect((await browser.login(user.username, PASSWORD)).status).toBe(200);
    const client = await appClient("Evented app");
    await getCode(browser, codeRequest(client.clientId));
    expect(events.filter((event) => event.type === "authorization.revoked")).toEqual([]);
    expect((await revokeFromPage(browser, client.clientId)).status).toBe(303);
    expect(events.filter((event) => event.type === "authorization.revoked")).toEqual([
      { type: "authorization.revoked", clientId: client.clientId, userId: user.id },
    ]);
  });
});

/** A valid CSRF token for the browser's cookie: the login form carries one. */
async function csrfTokenOf(browser: Browser): Promise<string> {
  return hiddenFields(await (await browser.get("/o/login/")).text()).csrfmiddlewaretoken!;
}
