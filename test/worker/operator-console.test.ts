import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { hashSecret } from "../../src/core/crypto";
import { listRecentEvents } from "../../src/db/audit-events";
import { findClient, listClients } from "../../src/db/clients";
import { registerUser } from "../../src/db/registration";
import { findUserById, findUserByUsername } from "../../src/db/users";
import { createProvider } from "../../src/provider";
import type { ProviderOptions } from "../../src/provider";
import { Browser, hiddenFields } from "./support/browser";
import { PASSWORD, REDIRECT, unique } from "./support/flow";
import { BASE, basic, createClient, db, form } from "./support/helpers";
import { AppBrowser } from "./support/oidc-helpers";

/**
 * The operator console (`/o/admin/...`): off by default; on, only for signed-in operators whose
 * sign-in is recent; every change a CSRF-checked POST doing what the admin CLI does; events recorded.
 */

const ADMIN = "/o/admin";

const consoleApp = (settings: NonNullable<ProviderOptions["settings"]> = {}) => createProvider({ settings: { ...settings, OPERATOR_CONSOLE: true } });

async function newOperator(prefix = "op") {
  const username = unique(prefix);
  const user = await registerUser(db(), { username, password: PASSWORD, operator: true });
  return { username, id: user.id };
}

/** A browser signed in to `app` as a new user (an operator unless told otherwise). */
async function signedInTo(app: ReturnType<typeof consoleApp>, options: { operator?: boolean } = {}) {
  const username = unique(options.operator === false ? "plain" : "op");
  const user = await registerUser(db(), { username, password: PASSWORD, operator: options.operator !== false });
  const browser = new AppBrowser(app);
  expect((await browser.login(username, PASSWORD)).status).toBe(200);
  return { browser, username, id: user.id };
}

/** Posts `fields` with the CSRF token of the page at `formPage`. */
async function submit(browser: Browser, formPage: string, action: string, fields: Record<string, string> = {}): Promise<Response> {
  const page = await browser.get(formPage);
  expect(page.status, formPage).toBe(200);
  return browser.post(action, { ...hiddenFields(await page.text()), ...fields });
}

/** The messages the form shows next to one field. */
function fieldErrors(html: string, field: string): string {
  const block = [...html.matchAll(/<div id="([a-z_]+)-error">(.*?)<\/div>/gs)].find((match) => match[1] === field);
  return block?.[2] ?? "";
}

const secretOn = (html: string) => /<code id="client-secret">([^<]+)<\/code>/.exec(html)?.[1];

/** The provider's token endpoint, in the console app's isolate (its client cache is the one the console clears). */
function token(app: ReturnType<typeof consoleApp>, fields: Record<string, string>, headers: Record<string, string> = {}) {
  return app.request(
    `${BASE}/o/token/`,
    { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", ...headers }, body: form(fields) },
    env,
  );
}

/** Events are written after the response: waits until one of `type` about `id` is there. */
async function eventFor(type: string, filter: { userId?: string; clientId?: string }) {
  for (let i = 0; i < 50; i++) {
    const found = (await listRecentEvents(db(), 20, { type, ...filter }))[0];
    if (found) return found;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return undefined;
}

describe("who may use the console", () => {
  it("is 404 while OPERATOR_CONSOLE is off (the default), even for an operator", async () => {
    const op = await newOperator();
    const browser = new Browser();
    expect((await browser.login(op.username, PASSWORD)).status).toBe(200);
    for (const path of [`${ADMIN}/`, `${ADMIN}/clients/`, `${ADMIN}/users/`, `${ADMIN}/keys/`, `${ADMIN}/events/`]) {
      expect((await browser.get(path)).status, path).toBe(404);
    }
    const res = await browser.post(`${ADMIN}/users/${op.id}/disable/`, {});
    expect(res.status).toBe(404);
    expect((await findUserById(db(), op.id))!.isActive).toBe(true);
  });

  it("sends a stranger to the login page, and signing in comes back to the console page", async () => {
    const app = consoleApp();
    const op = await newOperator();
    const browser = new AppBrowser(app);
    const res = await browser.get(`${ADMIN}/clients`);
    expect(res.status).toBe(303);
    const login = new URL(res.headers.get("location")!, BASE);
    expect(login.pathname).toBe("/o/login/");
    expect(login.searchParams.get("next")).toBe(`${ADMIN}/clients/`);
    const page = await browser.get(login.pathname + login.search);
    const back = await browser.post("/o/login/", { ...hiddenFields(await page.text()), username: op.username, password: PASSWORD });
    expect(back.status).toBe(303);
    expect(back.headers.get("location")).toBe(`${ADMIN}/clients/`);
    expect((await browser.get(`${ADMIN}/clients/`)).status).toBe(200);
  });

  it("refuses a signed-in user who is not an operator (403), and their POSTs change nothing", async () => {
    const app = consoleApp();
    const { browser } = await signedInTo(app, { operator: false });
    const victim = await newOperator("victim");
    const res = await browser.get(`${ADMIN}/`);
    expect(res.status).toBe(403);
    expect(await res.text()).toContain("Operators only");
    // Even with a valid CSRF token of this browser (from the login page).
    const fields = hiddenFields(await (await browser.get("/o/login/")).text());
    expect((await browser.post(`${ADMIN}/users/${victim.id}/disable/`, fields)).status).toBe(403);
    expect((await findUserById(db(), victim.id))!.isActive).toBe(true);
  });

  it("takes the role away at once: the next request of an open console is refused", async () => {
    const app = consoleApp();
    const { browser, username } = await signedInTo(app);
    expect((await browser.get(`${ADMIN}/`)).status).toBe(200);
    const { setUserOperator } = await import("../../src/db/users");
    await setUserOperator(db(), username, false);
    expect((await browser.get(`${ADMIN}/`)).status).toBe(403);
  });

  it("asks an operator whose sign-in is older than OPERATOR_REAUTH_SECONDS to sign in again", async () => {
    const app = consoleApp({ OPERATOR_REAUTH_SECONDS: 1 });
    const { browser, username } = await signedInTo(app);
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const res = await browser.get(`${ADMIN}/users/`);
    expect(res.status).toBe(303);
    const login = new URL(res.headers.get("location")!, BASE);
    expect(login.searchParams.get("next")).toBe(`${ADMIN}/users/`);
    expect(login.searchParams.get("login_hint")).toBe(username);
    const page = await (await browser.get(login.pathname + login.search)).text();
    expect(page).toContain(`value="${username}"`);
    expect((await browser.post("/o/login/", { ...hiddenFields(page), username, password: PASSWORD })).status).toBe(303);
    expect((await browser.get(`${ADMIN}/users/`)).status).toBe(200);
  });

  it("refuses a POST without this browser's CSRF token, and changes nothing", async () => {
    const app = consoleApp();
    const { browser } = await signedInTo(app);
    const victim = await newOperator("victim");
    for (const fields of [{}, { csrfmiddlewaretoken: "forged" }] as Record<string, string>[]) {
      const res = await browser.post(`${ADMIN}/users/${victim.id}/disable/`, fields);
      expect(res.status).toBe(403);
      expect(await res.text()).toContain("Nothing was changed");
    }
    // Another browser's valid token does not do either.
    const other = await signedInTo(app);
    const othersToken = hiddenFields(await (await other.browser.get(`${ADMIN}/users/${victim.id}/`)).text());
    expect((await browser.post(`${ADMIN}/users/${victim.id}/disable/`, othersToken)).status).toBe(403);
    expect((await findUserById(db(), victim.id))!.isActive).toBe(true);
  });

  it("serves its pages uncached, unframeable, without scripts", async () => {
    const app = consoleApp();
    const { browser } = await signedInTo(app);
    const res = await browser.get(`${ADMIN}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(res.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    expect(res.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(await res.text()).not.toContain("<script");
  });
});

it("the overview counts every client, user and key", async () => {
  const app = consoleApp();
  const { browser } = await signedInTo(app);
  await createClient({ name: unique("counted") });
  const html = await (await browser.get(`${ADMIN}/`)).text();
  const keys = (JSON.parse(env.SIGNING_KEYS as string) as { keys: unknown[] }).keys.length;
  const { listUsers } = await import("../../src/db/users");
  expect(html).toContain(`>${(await listClients(db())).length} clients</a>`);
  expect(html).toContain(`>${(await listUsers(db())).length} users</a>`);
  expect(html).toContain(`>${keys} signing keys</a>`);
});

describe("clients", () => {
  it("lists every client, whoever made it", async () => {
    const app = consoleApp();
    const { browser } = await signedInTo(app);
    const byAdmin = await createClient({ name: unique("admin-made") });
    const owner = await newOperator("owner");
    const byUser = await createClient({ name: unique("user-made"), userId: owner.id, source: "user" });
    const html = await (await browser.get(`${ADMIN}/clients/`)).text();
    expect(html).toContain(byAdmin.clientId);
    expect(html).toContain(byUser.clientId);
    expect(html).toContain(byUser.client.name);
    const detail = await (await browser.get(`${ADMIN}/clients/${byUser.clientId}/`)).text();
    expect(detail).toContain(`owned by <a href="${ADMIN}/users/${owner.id}/">`);
  });

  it("registers a client with the CLI's rules: errors next to their fields, nothing stored", async () => {
    const app = consoleApp();
    const { browser } = await signedInTo(app);
    const before = (await listClients(db())).length;
    const res = await submit(browser, `${ADMIN}/clients/new/`, `${ADMIN}/clients/new/`, {
      name: "",
      client_type: "confidential",
      grant_authorization_code: "on",
      redirect_uris: "http://evil.example.com/cb#frag",
      resources: "not a uri",
      token_endpoint_auth_method: "tls_client_auth",
    });
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(fieldErrors(html, "name")).toContain("Enter a name.");
    expect(fieldErrors(html, "redirect_uris")).not.toBe("");
    expect(fieldErrors(html, "resources")).not.toBe("");
    expect(fieldErrors(html, "token_endpoint_auth_method")).not.toBe("");
    expect(html).toContain('role="alert"');
    expect((await listClients(db())).length).toBe(before);
  });

  it("registers a working client: the secret shown once and stored hashed; operator-only choices allowed; the event names the operator", async () => {
    const app = consoleApp();
    const { browser, id: operatorId } = await signedInTo(app);
    const name = unique("Console made");
    const res = await submit(browser, `${ADMIN}/clients/new/`, `${ADMIN}/clients/new/`, {
      name,
      client_type: "confidential",
      grant_client_credentials: "on",
      grant_password: "on",
      scope: "read introspection",
      token_endpoint_auth_method: "client_secret_post",
      skip_authorization: "on",
    });
    const html = await res.text();
    expect(res.status, html).toBe(201);
    const secret = secretOn(html)!;
    const clientId = /<code id="client-id">([^<]+)<\/code>/.exec(html)![1]!;
    const client = (await findClient(db(), clientId))!;
    expect(client).toMatchObject({ name, source: "admin", scope: "read introspection", skipAuthorization: true, tokenEndpointAuthMethod: "client_secret_post" });
    expect(client.grantTypes.toSorted()).toEqual(["client_credentials", "password"]);
    expect(client.secretHash).toBe(await hashSecret(secret));
    expect(await (await browser.get(`${ADMIN}/clients/${clientId}/`)).text()).not.toContain(secret);
    const issued = await token(app, { grant_type: "client_credentials", scope: "read", client_id: clientId, client_secret: secret });
    expect(issued.status).toBe(200);
    expect(await eventFor("client.registered", { clientId })).toMatchObject({ operatorId });
  });

  it("rotates a secret: the old one stops at once with grace 0, the new one works; a bad grace changes nothing", async () => {
    const app = consoleApp();
    const { browser } = await signedInTo(app);
    const { clientId, clientSecret } = await createClient();
    const own = `${ADMIN}/clients/${clientId}`;
    const cc = (secret: string) => token(app, { grant_type: "client_credentials", scope: "read" }, { authorization: basic(clientId, secret) });
    expect((await cc(clientSecret)).status).toBe(200);
    const bad = await submit(browser, `${own}/`, `${own}/rotate-secret/`, { grace_seconds: "-1" });
    expect(bad.status).toBe(400);
    expect((await cc(clientSecret)).status).toBe(200);
    const res = await submit(browser, `${own}/`, `${own}/rotate-secret/`, { grace_seconds: "0" });
    const html = await res.text();
    expect(res.status).toBe(200);
    const secret = secretOn(html)!;
    expect(secret).not.toBe(clientSecret);
    expect((await cc(clientSecret)).status).toBe(401);
    expect((await cc(secret)).status).toBe(200);
    expect(await eventFor("client.secret_rotated", { clientId })).toBeDefined();
  });

  it("revokes a client's tokens: its refresh tokens fail at once", async () => {
    const app = consoleApp();
    const { browser } = await signedInTo(app);
    const user = await newOperator("owner");
    const { clientId, clientSecret } = await createClient({ grantTypes: ["password", "refresh_token"] });
    const auth = { authorization: basic(clientId, clientSecret) };
    const issued = await token(app, { grant_type: "password", username: user.username, password: PASSWORD, scope: "read" }, auth);
    expect(issued.status).toBe(200);
    const { refresh_token } = (await issued.json()) as { refresh_token: string };
    const own = `${ADMIN}/clients/${clientId}`;
    const res = await submit(browser, `${own}/`, `${own}/revoke-tokens/`);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`${own}/?done=tokens_revoked`);
    expect(await (await browser.get(res.headers.get("location")!)).text()).toContain("refresh tokens are revoked");
    const refreshed = await token(app, { grant_type: "refresh_token", refresh_token }, auth);
    expect(refreshed.status).toBe(400);
    expect(await refreshed.json()).toMatchObject({ error: "invalid_grant" });
  });

  it("deletes a client after asking: gone, and its secret stops working", async () => {
    const app = consoleApp();
    const { browser } = await signedInTo(app);
    const { clientId, clientSecret } = await createClient();
    const own = `${ADMIN}/clients/${clientId}`;
    const res = await submit(browser, `${own}/delete/`, `${own}/delete/`);
    expect(res.status).toBe(303);
    expect(await findClient(db(), clientId)).toBeUndefined();
    expect((await token(app, { grant_type: "client_credentials" }, { authorization: basic(clientId, clientSecret) })).status).toBe(401);
    expect((await browser.get(`${own}/`)).status).toBe(404);
  });

  it("is 404 for an unknown client id", async () => {
    const app = consoleApp();
    const { browser } = await signedInTo(app);
    expect((await browser.get(`${ADMIN}/clients/nope/`)).status).toBe(404);
    expect((await browser.get(`${ADMIN}/clients/nope/delete/`)).status).toBe(404);
  });
});

describe("users", () => {
  it("creates a user with the CLI's rules: field errors, a taken username refused", async () => {
    const app = consoleApp();
    const { browser } = await signedInTo(app);
    const taken = await newOperator("taken");
    const short = await submit(browser, `${ADMIN}/users/new/`, `${ADMIN}/users/new/`, { username: "ok-name", password: "short", email: "not-an-email" });
    expect(short.status).toBe(400);
    const html = await short.text();
    expect(fieldErrors(html, "password")).toContain("at least 8 characters");
    expect(fieldErrors(html, "email")).not.toBe("");
    expect(html).toContain('value="ok-name"');
    expect(await findUserByUsername(db(), "ok-name")).toBeUndefined();
    const dup = await submit(browser, `${ADMIN}/users/new/`, `${ADMIN}/users/new/`, { username: taken.username, password: PASSWORD });
    expect(dup.status).toBe(400);
    expect(fieldErrors(await dup.text(), "username")).toContain("exists");
  });

  it("creates a user who can sign in", async () => {
    const app = consoleApp();
    const { browser, id: operatorId } = await signedInTo(app);
    const username = unique("made");
    const res = await submit(browser, `${ADMIN}/users/new/`, `${ADMIN}/users/new/`, { username, password: PASSWORD, email: `${username}@example.com` });
    expect(res.status).toBe(303);
    const user = (await findUserByUsername(db(), username))!;
    expect(user).toMatchObject({ isOperator: false, email: `${username}@example.com` });
    expect(res.headers.get("location")).toBe(`${ADMIN}/users/${user.id}/?done=user_created`);
    expect((await new AppBrowser(app).login(username, PASSWORD)).status).toBe(200);
    expect(await eventFor("user.created", { userId: user.id })).toMatchObject({ operatorId });
  });

  it("disables a user: their session ends, their next sign-in fails, their refresh token is refused; enabling lets them in again", async () => {
    const app = consoleApp();
    const { browser, id: operatorId } = await signedInTo(app);
    const target = await signedInTo(app, { operator: false });
    expect((await target.browser.get("/o/authorized_tokens/")).status).toBe(200);
    const { clientId, clientSecret } = await createClient({ grantTypes: ["password", "refresh_token"] });
    const auth = { authorization: basic(clientId, clientSecret) };
    const issued = await token(app, { grant_type: "password", username: target.username, password: PASSWORD, scope: "read" }, auth);
    const { refresh_token } = (await issued.json()) as { refresh_token: string };

    const own = `${ADMIN}/users/${target.id}`;
    const res = await submit(browser, `${own}/`, `${own}/disable/`);
    expect(res.status).toBe(303);
    expect((await findUserById(db(), target.id))!.isActive).toBe(false);
    expect((await target.browser.get("/o/authorized_tokens/")).status).toBe(303); // signed out
    expect((await new AppBrowser(app).login(target.username, PASSWORD)).status).toBe(400);
    expect((await token(app, { grant_type: "refresh_token", refresh_token }, auth)).status).toBe(400);
    expect(await eventFor("user.disabled", { userId: target.id })).toMatchObject({ operatorId });

    expect((await submit(browser, `${own}/`, `${own}/enable/`)).status).toBe(303);
    expect((await new AppBrowser(app).login(target.username, PASSWORD)).status).toBe(200);
  });

  it("resets a password: the old one fails, the new one works; a short one is shown next to the field", async () => {
    const app = consoleApp();
    const { browser } = await signedInTo(app);
    const target = await newOperator("target");
    const own = `${ADMIN}/users/${target.id}`;
    const short = await submit(browser, `${own}/`, `${own}/password/`, { password: "short" });
    expect(short.status).toBe(400);
    expect(fieldErrors(await short.text(), "password")).toContain("at least 8 characters");
    const res = await submit(browser, `${own}/`, `${own}/password/`, { password: "a new long password" });
    expect(res.status).toBe(303);
    expect((await new AppBrowser(app).login(target.username, PASSWORD)).status).toBe(400);
    expect((await new AppBrowser(app).login(target.username, "a new long password")).status).toBe(200);
  });

  it("signs a user out everywhere", async () => {
    const app = consoleApp();
    const { browser } = await signedInTo(app);
    const target = await signedInTo(app, { operator: false });
    const own = `${ADMIN}/users/${target.id}`;
    expect((await submit(browser, `${own}/`, `${own}/signout/`)).status).toBe(303);
    expect((await target.browser.get("/o/authorized_tokens/")).status).toBe(303);
    expect((await findUserById(db(), target.id))!.isActive).toBe(true);
  });

  it("does not let an operator disable or re-password themselves", async () => {
    const app = consoleApp();
    const { browser, id } = await signedInTo(app);
    const own = `${ADMIN}/users/${id}`;
    const page = await (await browser.get(`${own}/`)).text();
    expect(page).not.toContain(`${own}/disable/`);
    const res = await browser.post(`${own}/disable/`, hiddenFields(page));
    expect(res.status).toBe(400);
    expect((await findUserById(db(), id))!.isActive).toBe(true);
  });

  it("is 404 for an unknown user id", async () => {
    const app = consoleApp();
    const { browser } = await signedInTo(app);
    expect((await browser.get(`${ADMIN}/users/nope/`)).status).toBe(404);
  });
});

describe("signing keys and events", () => {
  it("lists the keys of SIGNING_KEYS (public facts only) and which ones sign", async () => {
    const app = consoleApp();
    const { browser } = await signedInTo(app);
    const html = await (await browser.get(`${ADMIN}/keys/`)).text();
    const keys = (JSON.parse(env.SIGNING_KEYS as string) as { keys: { kid: string; d: string }[] }).keys;
    for (const key of keys) {
      expect(html).toContain(key.kid);
      expect(html).not.toContain(key.d);
    }
    expect(html).toContain("signs");
    expect(html).toContain("keys add --alg");
  });

  it("shows sign-in failures with the typed username escaped, and filters by type", async () => {
    const app = consoleApp();
    const { browser } = await signedInTo(app);
    const typed = `<img src=x onerror=alert(1)>${unique("")}`;
    expect((await new AppBrowser(app).login(typed, "wrong password")).status).toBe(400);
    expect(await eventFor("signin.failed", {})).toBeDefined();
    const html = await (await browser.get(`${ADMIN}/events/?type=signin.failed`)).text();
    expect(html).toContain("signin.failed");
    expect(html).not.toContain("<img src=x");
    expect(html).toContain("&lt;img src=x");
    expect(html).toContain(">signin.failed</code>");
    expect(html).not.toContain(">signin.succeeded</code>");
    // An unknown type shows everything rather than failing.
    expect((await browser.get(`${ADMIN}/events/?type=%3Cscript%3E`)).status).toBe(200);
  });

  it("records no event while EVENT_HISTORY_DAYS is 0", async () => {
    const app = consoleApp({ EVENT_HISTORY_DAYS: 0 });
    const username = unique("quiet");
    await registerUser(db(), { username, password: PASSWORD });
    expect((await new AppBrowser(app).login(username, PASSWORD)).status).toBe(200);
    const user = (await findUserByUsername(db(), username))!;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await listRecentEvents(db(), 5, { type: "signin.succeeded", userId: user.id })).toEqual([]);
  });
});

it("the ready Worker keeps the console off", async () => {
  expect((await SELF.fetch(`${BASE}${ADMIN}/`)).status).toBe(404);
  expect(REDIRECT).toBeDefined();
});
