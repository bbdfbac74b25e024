import { describe, expect, it } from "vitest";
import { deleteUserSessions } from "../../src/db/sessions";
import { Browser, hiddenFields, redirectParams } from "./support/browser";
import { authorizeUrl, PASSWORD, signedIn } from "./support/flow";
import { db } from "./support/helpers";
import { oidcClient, oidcRequest, signedInOidc } from "./support/oidc-helpers";

/** Issue #8, items 2 and 6: sessions end on the server, and a forced sign-in cannot be skipped. */

/** A second browser holding a copy of another browser's cookies (a stolen or copied session cookie). */
function copyOf(browser: Browser): Browser {
  const copy = new Browser();
  for (const [name, value] of browser.cookies) copy.cookies.set(name, value);
  return copy;
}

/** Whether this browser is treated as signed in: an authorization request answers without the login page. */
async function isSignedIn(browser: Browser, clientId: string): Promise<boolean> {
  const res = await browser.get(authorizeUrl(oidcRequest(clientId)));
  expect(res.status).toBe(303);
  return !res.headers.get("location")!.startsWith("/o/login/");
}

async function logOut(browser: Browser) {
  const page = await browser.get("/o/logout/");
  const res = await browser.post("/o/logout/", { ...hiddenFields(await page.text()), logout: "yes" });
  expect(res.status).toBe(200);
}

describe("logout ends the session on the server (item 6)", () => {
  it("a copy of the session cookie taken before logout no longer signs anyone in", async () => {
    const { clientId } = await oidcClient();
    const { browser } = await signedInOidc();
    const stolen = copyOf(browser);
    expect(await isSignedIn(stolen, clientId)).toBe(true);
    await logOut(browser);
    expect(await isSignedIn(browser, clientId)).toBe(false);
    expect(await isSignedIn(stolen, clientId)).toBe(false);
  });

  it("signing in again replaces the old session: a copy of the old cookie stops working", async () => {
    const { clientId } = await oidcClient();
    const { browser, username } = await signedInOidc();
    const old = copyOf(browser);
    expect((await browser.login(username, PASSWORD)).status).toBe(200);
    expect(await isSignedIn(browser, clientId)).toBe(true);
    expect(await isSignedIn(old, clientId)).toBe(false);
  });

  it("sign out everywhere ends every session of the user, and only theirs", async () => {
    const { clientId } = await oidcClient();
    const first = await signedInOidc();
    const second = new Browser();
    expect((await second.login(first.username, PASSWORD)).status).toBe(200);
    const bystander = await signedInOidc();
    expect(await deleteUserSessions(db(), first.id)).toHaveLength(2);
    expect(await isSignedIn(first.browser, clientId)).toBe(false);
    expect(await isSignedIn(second, clientId)).toBe(false);
    expect(await isSignedIn(bystander.browser, clientId)).toBe(true);
  });
});

describe("a forced sign-in cannot be skipped (item 2)", () => {
  const expectLogin = (res: Response) => {
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toMatch(/^\/o\/login\/\?/);
  };

  it("prompt=login or an exceeded max_age with a marker written by the client: the login page, not a code", async () => {
    const { clientId } = await oidcClient();
    const { browser } = await signedInOidc();
    await new Promise((resolve) => setTimeout(resolve, 1100));
    for (const marker of [{ _reauth: "-" }, { _login: "-" }, { _login: "x".repeat(22) }]) {
      expectLogin(await browser.get(authorizeUrl(oidcRequest(clientId, { prompt: "login", ...marker }))));
      expectLogin(await browser.get(authorizeUrl(oidcRequest(clientId, { max_age: "0", ...marker }))));
    }
  });

  it("the marker of one browser's sign-in does not satisfy another browser's session", async () => {
    const { clientId } = await oidcClient();
    const { browser, username } = await signedInOidc();
    const victim = await signedIn();
    const toLogin = await browser.get(authorizeUrl(oidcRequest(clientId, { prompt: "login" })));
    const loginUrl = toLogin.headers.get("location")!;
    const page = await browser.get(loginUrl);
    const back = await browser.post("/o/login/", { ...hiddenFields(await page.text()), username, password: PASSWORD });
    const next = back.headers.get("location")!;
    expect(next).toContain("_login=");
    // The signed-in user gets the code; the same URL in the victim's browser asks the victim to sign in.
    expect(redirectParams(await browser.get(next)).get("code")).toBeTruthy();
    expectLogin(await victim.browser.get(next));
  });

  it("the marker is bound to the new session: the old session's cookie with the marked URL still needs a sign-in", async () => {
    const { clientId } = await oidcClient();
    const { browser, username } = await signedInOidc();
    const before = copyOf(browser);
    const toLogin = await browser.get(authorizeUrl(oidcRequest(clientId, { prompt: "login" })));
    const page = await browser.get(toLogin.headers.get("location")!);
    const back = await browser.post("/o/login/", { ...hiddenFields(await page.text()), username, password: PASSWORD });
    expectLogin(await before.get(back.headers.get("location")!));
  });
});
