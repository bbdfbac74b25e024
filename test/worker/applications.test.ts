import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { hashSecret } from "../../src/core/crypto";
import { findClient, listUserApplications } from "../../src/db/clients";
import type { ProviderEvent } from "../../src/core/events";
import { createProvider } from "../../src/provider";
import { Browser, hiddenFields } from "./support/browser";
import { authorizeUrl, isConsentPage, PASSWORD, REDIRECT, signedIn, unique } from "./support/flow";
import { BASE, basic, createClient, db, postToken } from "./support/helpers";
import { AppBrowser } from "./support/oidc-helpers";

/**
 * DOT's application pages (`/o/applications/...`): a signed-in user manages only the applications
 * they registered there; every POST carries the CSRF token; the shared registration schema checks
 * the fields; changes apply at once, deletions stop the tokens.
 */

const APPS = "/o/applications";
const NEW_REDIRECT = "https://app.example.com/other-callback";

type Form = Record<string, string>;

/** The form fields of a confidential application that may use client credentials and the code flow. */
const confidentialApp = (name: string): Form => ({
  name,
  client_type: "confidential",
  grant_authorization_code: "on",
  grant_refresh_token: "on",
  grant_client_credentials: "on",
  redirect_uris: REDIRECT,
  scope: "read write",
});

/** Posts `fields` with the CSRF token of the page at `formPage`. */
async function submit(browser: Browser, formPage: string, action: string, fields: Form): Promise<Response> {
  const page = await browser.get(formPage);
  expect(page.status).toBe(200);
  return browser.post(action, { ...hiddenFields(await page.text()), ...fields });
}

const secretOn = (html: string) => /<code id="client-secret">([^<]+)<\/code>/.exec(html)?.[1];

/** Registers an application through the pages; returns its row and the secret the page showed. */
async function register(browser: Browser, userId: string, fields: Form) {
  const before = new Set((await listUserApplications(db(), userId)).map((app) => app.id));
  const res = await submit(browser, `${APPS}/register/`, `${APPS}/register/`, fields);
  const html = await res.text();
  expect(res.status, html).toBe(200);
  const client = (await listUserApplications(db(), userId)).find((app) => !before.has(app.id));
  expect(client).toBeDefined();
  return { client: client!, secret: secretOn(html), html };
}

const clientCredentials = (clientId: string, secret: string) =>
  postToken({ grant_type: "client_credentials", scope: "read" }, { authorization: basic(clientId, secret) });
const api = (token: string) => SELF.fetch(`${BASE}/api/me`, { headers: { authorization: `Bearer ${token}` } });

/** The messages the form shows next to one field. */
function fieldErrors(html: string, field: string): string {
  const block = [...html.matchAll(/<div id="([a-z_]+)-error">(.*?)<\/div>/gs)].find((match) => match[1] === field);
  return block?.[2] ?? "";
}

describe("not signed in", () => {
  it("every page sends the browser to the login page, and signing in comes back to it", async () => {
    const browser = new Browser();
    for (const path of [`${APPS}/`, `${APPS}`, `${APPS}/register/`, `${APPS}/abc/update/`]) {
      const res = await browser.get(path);
      expect(res.status).toBe(303);
      const login = new URL(res.headers.get("location")!, BASE);
      expect(login.pathname).toBe("/o/login/");
      expect(login.searchParams.get("next")).toBe(path.endsWith("/") ? path : `${path}/`);
    }
    const { username } = await signedIn("apps");
    const first = await browser.get(`${APPS}/`);
    const loginPage = await browser.get(first.headers.get("location")!);
    const back = await browser.post("/o/login/", { ...hiddenFields(await loginPage.text()), username, password: PASSWORD });
    expect(back.status).toBe(303);
    expect(back.headers.get("location")).toBe(`${APPS}/`);
    const list = await browser.get(`${APPS}/`);
    expect(list.status).toBe(200);
    expect(await list.text()).toContain("Your applications");
  });

  it("a POST changes nothing and goes to the login page", async () => {
    const { browser, id } = await signedIn("apps");
    const { client } = await register(browser, id, confidentialApp("Kept"));
    const stranger = new Browser();
    const res = await stranger.post(`${APPS}/${client.id}/delete/`, {});
    expect(res.status).toBe(303);
    expect(new URL(res.headers.get("location")!, BASE).pathname).toBe("/o/login/");
    expect(await findClient(db(), client.id)).toBeDefined();
  });
});

describe("registering an application", () => {
  it("a confidential application: the secret is shown once, stored hashed, and works for client credentials", async () => {
    const { browser, id } = await signedIn("apps");
    const { client, secret, html } = await register(browser, id, confidentialApp("My server"));
    expect(secret).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    expect(html).toContain("shown only now");
    expect(client.source).toBe("user");
    expect(client.userId).toBe(id);
    expect(client.secretHash).toBe(await hashSecret(secret!));
    expect(client.secretHash).not.toContain(secret!);
    expect(client.grantTypes).toEqual(["authorization_code", "refresh_token", "client_credentials"]);

    const view = await browser.get(`${APPS}/${client.id}/`);
    const viewHtml = await view.text();
    expect(view.status).toBe(200);
    expect(view.headers.get("cache-control")).toBe("no-store");
    expect(view.headers.get("x-frame-options")).toBe("DENY");
    expect(viewHtml).toContain(client.id);
    expect(viewHtml).not.toContain(secret!);
    expect(secretOn(viewHtml)).toBeUndefined();

    const token = await clientCredentials(client.id, secret!);
    expect(token.status).toBe(200);
    const { access_token } = (await token.json()) as { access_token: string };
    expect((await api(access_token)).status).toBe(200);
  });

  it("a public application gets no secret", async () => {
    const { browser, id } = await signedIn("apps");
    const { client, secret } = await register(browser, id, {
      name: "My SPA",
      client_type: "public",
      grant_authorization_code: "on",
      redirect_uris: REDIRECT,
      allowed_origins: "https://app.example.com",
    });
    expect(secret).toBeUndefined();
    expect(client.secretHash).toBeNull();
    expect(client.tokenEndpointAuthMethod).toBe("none");
    expect(client.allowedOrigins).toEqual(["https://app.example.com"]);
  });

  const refused: [string, Form, string, RegExp][] = [
    ["an http redirect URI that is not loopback", { redirect_uris: "http://app.example.com/cb" }, "redirect_uris", /uses http; only loopback/],
    ["no grant type", { grant_authorization_code: "", grant_refresh_token: "", grant_client_credentials: "" }, "grant_types", /Pick at least one grant type/],
    ["a public client with client_credentials", { client_type: "public" }, "grant_types", /public clients cannot use client_credentials/],
    ["the introspection scope", { scope: "read introspection" }, "scope", /introspection scope is given by an operator only/],
    ["an origin with a path", { allowed_origins: "https://app.example.com/x" }, "allowed_origins", /must be an origin/],
  ];
  for (const [what, change, field, message] of refused) {
    it(`${what}: 400, the form again with the values and the message next to the field; nothing stored`, async () => {
      const { browser, id } = await signedIn("apps");
      const name = unique("Refused ");
      const fields = Object.fromEntries(Object.entries({ ...confidentialApp(name), ...change }).filter(([, value]) => value !== ""));
      const res = await submit(browser, `${APPS}/register/`, `${APPS}/register/`, fields);
      const html = await res.text();
      expect(res.status).toBe(400);
      expect(fieldErrors(html, field)).toMatch(message);
      expect(html).toContain(`value="${name}"`);
      expect(html).toContain('aria-describedby');
      expect(await listUserApplications(db(), id)).toEqual([]);
    });
  }
});

describe("ownership: a user sees and changes only their own applications", () => {
  it("the list shows only the user's own applications", async () => {
    const alice = await signedIn("alice");
    const bob = await signedIn("bob");
    const aliceApp = unique("Alice app ");
    const bobApp = unique("Bob app ");
    await register(alice.browser, alice.id, confidentialApp(aliceApp));
    await register(bob.browser, bob.id, confidentialApp(bobApp));
    // An operator's client that names the user is not one the user registered.
    const operators = await createClient({ name: unique("Operator app "), userId: alice.id });

    const aliceList = await (await alice.browser.get(`${APPS}/`)).text();
    expect(aliceList).toContain(aliceApp);
    expect(aliceList).not.toContain(bobApp);
    expect(aliceList).not.toContain(operators.client.name);
    const bobList = await (await bob.browser.get(`${APPS}/`)).text();
    expect(bobList).toContain(bobApp);
    expect(bobList).not.toContain(aliceApp);
  });

  it("another user's application, or an operator's, is a 404 page for view, update, delete and rotate; nothing changes", async () => {
    const alice = await signedIn("alice");
    const bob = await signedIn("bob");
    const { client: alices, secret } = await register(alice.browser, alice.id, confidentialApp("Alice's"));
    const operators = (await createClient({ name: "Operator's", userId: bob.id })).client;
    // Bob's own CSRF token: the forms are his, only the application is not.
    const csrf = hiddenFields(await (await bob.browser.get(`${APPS}/register/`)).text());

    for (const target of [alices, operators]) {
      const base = `${APPS}/${target.id}`;
      for (const path of [`${base}/`, `${base}`, `${base}/update/`, `${base}/delete/`]) {
        const res = await bob.browser.get(path);
        expect(res.status, path).toBe(404);
        expect(await res.text()).not.toContain(target.name);
      }
      const posts: [string, Form][] = [
        [`${base}/update/`, { ...confidentialApp("Taken over"), redirect_uris: "https://evil.example/cb" }],
        [`${base}/delete/`, {}],
        [`${base}/rotate-secret/`, {}],
      ];
      for (const [path, fields] of posts) {
        const res = await bob.browser.post(path, { ...csrf, ...fields });
        expect(res.status, path).toBe(404);
      }
      const after = await findClient(db(), target.id);
      expect(after).toEqual(target);
    }
    expect((await clientCredentials(alices.id, secret!)).status).toBe(200);
  });
});

describe("CSRF: every POST needs this browser's token", () => {
  const cases: [string, (csrf: Form) => Form][] = [
    ["missing", () => ({})],
    ["wrong", () => ({ csrfmiddlewaretoken: "A".repeat(43) })],
  ];
  for (const [what, token] of cases) {
    it(`${what}: 403 and nothing changed, for register, update, delete and rotate`, async () => {
      const { browser, id } = await signedIn("apps");
      const { client } = await register(browser, id, confidentialApp("Guarded"));
      const base = `${APPS}/${client.id}`;
      const posts: [string, Form][] = [
        [`${APPS}/register/`, confidentialApp("Forged")],
        [`${base}/update/`, { ...confidentialApp("Renamed"), redirect_uris: "https://evil.example/cb" }],
        [`${base}/delete/`, {}],
        [`${base}/rotate-secret/`, {}],
      ];
      for (const [path, fields] of posts) {
        const res = await browser.post(path, { ...fields, ...token({}) });
        expect(res.status, path).toBe(403);
      }
      expect(await findClient(db(), client.id)).toEqual(client);
      expect((await listUserApplications(db(), id)).map((app) => app.id)).toEqual([client.id]);
    });
  }

  it("a valid token from a form posted by another site (Origin) is refused", async () => {
    const { browser, id } = await signedIn("apps");
    const { client } = await register(browser, id, confidentialApp("Guarded"));
    const page = await browser.get(`${APPS}/${client.id}/delete/`);
    const res = await browser.post(`${APPS}/${client.id}/delete/`, hiddenFields(await page.text()), { origin: "https://evil.example" });
    expect(res.status).toBe(403);
    expect(await findClient(db(), client.id)).toEqual(client);
  });
});

describe("changes take effect", () => {
  it("an update applies at once: the new redirect URI works at the authorization endpoint", async () => {
    const { browser, id } = await signedIn("apps");
    const { client } = await register(browser, id, confidentialApp("Growing"));
    const request = { response_type: "code", client_id: client.id, redirect_uri: NEW_REDIRECT, scope: "read", state: "s" };
    expect((await browser.get(authorizeUrl(request))).status).toBe(400);

    const edit = await browser.get(`${APPS}/${client.id}/update/`);
    const editHtml = await edit.text();
    expect(editHtml).toContain(REDIRECT);
    const res = await browser.post(`${APPS}/${client.id}/update/`, {
      ...hiddenFields(editHtml),
      ...confidentialApp("Grown"),
      redirect_uris: `${REDIRECT}\n${NEW_REDIRECT}`,
    });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`${APPS}/${client.id}/`);
    const updated = await findClient(db(), client.id);
    expect(updated).toMatchObject({ name: "Grown", redirectUris: [REDIRECT, NEW_REDIRECT], secretHash: client.secretHash, source: "user" });

    const consent = await browser.get(authorizeUrl(request));
    expect(isConsentPage(consent, await consent.text())).toBe(true);
  });

  it("an update keeps what the form does not show (set by an operator): authentication method, keys' algorithm, DPoP, logout URIs", async () => {
    const { browser, id } = await signedIn("apps");
    const { clientId } = await createClient({
      name: "Operator-tuned",
      userId: id,
      source: "user",
      grantTypes: ["authorization_code", "refresh_token"],
      redirectUris: [REDIRECT],
      tokenEndpointAuthMethod: "client_secret_post",
      idTokenSignedResponseAlg: "ES256",
      subjectType: "pairwise",
      dpopBoundAccessTokens: true,
      requirePushedAuthorizationRequests: true,
      backchannelLogoutUri: "https://app.example.com/backchannel",
      frontchannelLogoutUri: "https://app.example.com/frontchannel",
      frontchannelLogoutSessionRequired: true,
    });
    const before = (await findClient(db(), clientId))!;
    const res = await submit(browser, `${APPS}/${clientId}/update/`, `${APPS}/${clientId}/update/`, {
      name: "Operator-tuned, renamed",
      client_type: "confidential",
      grant_authorization_code: "on",
      grant_refresh_token: "on",
      redirect_uris: REDIRECT,
    });
    expect(res.status, await res.clone().text()).toBe(303);
    const after = (await findClient(db(), clientId))!;
    expect(after.name).toBe("Operator-tuned, renamed");
    const kept = ["tokenEndpointAuthMethod", "idTokenSignedResponseAlg", "subjectType", "dpopBoundAccessTokens", "requirePushedAuthorizationRequests",
      "backchannelLogoutUri", "frontchannelLogoutUri", "frontchannelLogoutSessionRequired", "secretHash"] as const;
    for (const name of kept) expect(after[name], name).toEqual(before[name]);
  });

  it("an update with invalid fields shows them again with the messages; nothing changes", async () => {
    const { browser, id } = await signedIn("apps");
    const { client } = await register(browser, id, confidentialApp("Stable"));
    const res = await submit(browser, `${APPS}/${client.id}/update/`, `${APPS}/${client.id}/update/`, {
      ...confidentialApp("Unstable"),
      redirect_uris: "https://app.example.com/cb#fragment",
      client_type: "public",
    });
    const html = await res.text();
    expect(res.status).toBe(400);
    expect(fieldErrors(html, "redirect_uris")).toMatch(/must not have a fragment/);
    expect(fieldErrors(html, "client_type")).toMatch(/cannot be changed/);
    expect(await findClient(db(), client.id)).toEqual(client);
  });

  it("delete: a confirmation page, then the application and its tokens stop working", async () => {
    const { browser, id } = await signedIn("apps");
    const { client, secret } = await register(browser, id, confidentialApp(unique("Doomed ")));
    const token = await clientCredentials(client.id, secret!);
    const { access_token } = (await token.json()) as { access_token: string };
    expect((await api(access_token)).status).toBe(200);

    const confirm = await browser.get(`${APPS}/${client.id}/delete/`);
    const confirmHtml = await confirm.text();
    expect(confirm.status).toBe(200);
    expect(confirmHtml).toContain(client.name);
    expect(await findClient(db(), client.id)).toBeDefined();
    const res = await browser.post(`${APPS}/${client.id}/delete/`, hiddenFields(confirmHtml));
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`${APPS}/`);

    expect(await findClient(db(), client.id)).toBeUndefined();
    const after = await clientCredentials(client.id, secret!);
    expect(after.status).toBe(401);
    expect(((await after.json()) as { error: string }).error).toBe("invalid_client");
    expect((await api(access_token)).status).toBe(401);
    expect(await (await browser.get(`${APPS}/`)).text()).not.toContain(client.name);
    expect((await browser.get(`${APPS}/${client.id}/`)).status).toBe(404);
  });

  it("secret rotation: the new secret is shown once and works; the old one stops", async () => {
    const { browser, id } = await signedIn("apps");
    const { client, secret: old } = await register(browser, id, confidentialApp("Rotating"));
    expect((await clientCredentials(client.id, old!)).status).toBe(200);
    const page = await browser.get(`${APPS}/${client.id}/`);
    const res = await browser.post(`${APPS}/${client.id}/rotate-secret/`, hiddenFields(await page.text()));
    const html = await res.text();
    expect(res.status).toBe(200);
    const fresh = secretOn(html);
    expect(fresh).toBeDefined();
    expect(fresh).not.toBe(old);
    expect((await findClient(db(), client.id))!.secretHash).toBe(await hashSecret(fresh!));

    // The old secret first: this isolate cached the record it matched before the rotation.
    expect((await clientCredentials(client.id, old!)).status).toBe(401);
    expect((await clientCredentials(client.id, fresh!)).status).toBe(200);
    expect(await (await browser.get(`${APPS}/${client.id}/`)).text()).not.toContain(fresh!);
  });
});

describe("skip consent only where the operator allows it (APPLICATIONS_MAY_SKIP_CONSENT)", () => {
  const skipping = (name: string): Form => ({ ...confidentialApp(name), skip_authorization: "on" });

  it("by default the field is not shown and a posted value is ignored", async () => {
    const { browser, id } = await signedIn("apps");
    expect(await (await browser.get(`${APPS}/register/`)).text()).not.toContain("skip_authorization");
    const { client } = await register(browser, id, skipping("No skipping"));
    expect(client.skipAuthorization).toBe(false);
    const consent = await browser.get(authorizeUrl({ response_type: "code", client_id: client.id, redirect_uri: REDIRECT, scope: "read", state: "s" }));
    const html = await consent.text();
    expect(isConsentPage(consent, html)).toBe(true);
    // The name was chosen by a user, not checked by the operator: the consent page says so.
    expect(html).toContain("A user of this server registered this application");
  });

  it("with the setting on, the field is shown and the application skips the consent page", async () => {
    const app = createProvider({ settings: { APPLICATIONS_MAY_SKIP_CONSENT: true } });
    const { username, id } = await signedIn("apps");
    const browser = new AppBrowser(app);
    expect((await browser.login(username, PASSWORD)).status).toBe(200);
    expect(await (await browser.get(`${APPS}/register/`)).text()).toContain('name="skip_authorization"');
    const { client } = await register(browser, id, skipping("Skipping"));
    expect(client.skipAuthorization).toBe(true);
    const res = await browser.get(authorizeUrl({ response_type: "code", client_id: client.id, redirect_uri: REDIRECT, scope: "read", state: "s" }));
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toMatch(/^https:\/\/app\.example\.com\/callback\?code=/);
  });
});

describe("events", () => {
  it("registering, editing and deleting tell client.registered, client.updated and client.deleted with source user", async () => {
    const events: ProviderEvent[] = [];
    const app = createProvider({ events: (event) => void events.push(event) });
    const { username, id } = await signedIn("apps");
    const browser = new AppBrowser(app);
    expect((await browser.login(username, PASSWORD)).status).toBe(200);
    const { client } = await register(browser, id, confidentialApp("Told"));
    const own = `${APPS}/${client.id}`;
    expect((await submit(browser, `${own}/update/`, `${own}/update/`, confidentialApp("Told again"))).status).toBe(303);
    expect((await submit(browser, `${own}/delete/`, `${own}/delete/`, {})).status).toBe(303);
    const told = events.filter((event) => event.type.startsWith("client."));
    expect(told).toEqual(
      ["client.registered", "client.updated", "client.deleted"].map((type) => ({ type, clientId: client.id, source: "user", userId: id })),
    );
  });
});

describe("malformed posts", () => {
  it("a body that is not a form, or repeats a field, gets a 400 page, never a 500", async () => {
    const { browser } = await signedIn("apps");
    const json = await browser.fetch(`${APPS}/register/`, { method: "POST", headers: { "content-type": "application/json", origin: BASE }, body: "{}" });
    expect(json.status).toBe(400);
    const repeated = await browser.fetch(`${APPS}/register/`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: BASE },
      body: "name=a&name=b&%ZZ",
    });
    expect(repeated.status).toBe(400);
  });
});
