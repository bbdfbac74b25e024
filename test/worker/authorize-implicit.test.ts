import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { hiddenFields, redirectParams } from "./support/browser";
import { createClient, ISSUER } from "./support/helpers";
import { authorizeAndApprove, authorizeUrl, REDIRECT, signedIn } from "./support/flow";

/** RFC 6749 §4.2 (kept for DOT parity), OAuth 2.0 Form Post Response Mode, RFC 9207. */

const STATE = "st-<implicit>";

async function implicitClient() {
  // Even a client that may refresh never gets a refresh token through the front channel.
  return (await createClient({ clientType: "public", grantTypes: ["implicit", "refresh_token"], redirectUris: [REDIRECT] })).clientId;
}

const tokenRequest = (clientId: string, extra: Record<string, string | undefined> = {}) => ({
  response_type: "token",
  client_id: clientId,
  redirect_uri: REDIRECT,
  scope: "read",
  state: STATE,
  ...extra,
});

describe("response_type=token", () => {
  it("puts the token in the fragment with token_type, expires_in, scope, state and iss, and no refresh token", async () => {
    const clientId = await implicitClient();
    const { browser, id } = await signedIn();
    const res = await authorizeAndApprove(browser, tokenRequest(clientId));
    expect(res.status).toBe(303);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const params = redirectParams(res);
    expect(`${params.location.origin}${params.location.pathname}`).toBe(REDIRECT);
    expect(params.location.search).toBe("");
    expect(params.get("token_type")).toBe("Bearer");
    expect(params.get("expires_in")).toBe("3600");
    expect(params.get("scope")).toBe("read");
    expect(params.get("state")).toBe(STATE);
    expect(params.get("iss")).toBe(ISSUER);
    expect(params.get("refresh_token")).toBeNull();
    expect(params.get("code")).toBeNull();
    expect(decodeJwt(params.get("access_token")!)).toMatchObject({ sub: id, client_id: clientId, scope: "read" });
  });

  it("a remembered approval answers at once, again with no refresh token", async () => {
    const clientId = await implicitClient();
    const { browser } = await signedIn();
    await authorizeAndApprove(browser, tokenRequest(clientId));
    const res = await browser.get(authorizeUrl(tokenRequest(clientId, { state: "again", approval_prompt: "auto" })));
    expect(res.status).toBe(303);
    const params = redirectParams(res);
    expect(params.get("access_token")).toBeTruthy();
    expect(params.get("refresh_token")).toBeNull();
    expect(params.get("state")).toBe("again");
  });

  it("only for clients allowed the implicit grant: unauthorized_client, in the fragment", async () => {
    const { clientId } = await createClient({ clientType: "public", grantTypes: ["authorization_code"], redirectUris: [REDIRECT] });
    const { browser } = await signedIn();
    const res = await browser.get(authorizeUrl(tokenRequest(clientId)));
    expect(res.status).toBe(303);
    const params = redirectParams(res);
    expect(params.location.search).toBe("");
    expect(params.get("error")).toBe("unauthorized_client");
    expect(params.get("access_token")).toBeNull();
    expect(params.get("state")).toBe(STATE);
    expect(params.get("iss")).toBe(ISSUER);
  });

  it("denying sends access_denied in the fragment", async () => {
    const clientId = await implicitClient();
    const { browser } = await signedIn();
    const page = await browser.get(authorizeUrl(tokenRequest(clientId)));
    const res = await browser.post("/o/authorize/", { ...hiddenFields(await page.text()), cancel: "Cancel" });
    const params = redirectParams(res);
    expect(params.location.search).toBe("");
    expect(params.get("error")).toBe("access_denied");
    expect(params.get("access_token")).toBeNull();
  });
});

describe("response_mode=form_post", () => {
  it("renders an auto-submitting form to the redirect URI with the fields, its script allowed by a CSP nonce", async () => {
    const clientId = await implicitClient();
    const { browser } = await signedIn();
    const res = await authorizeAndApprove(browser, tokenRequest(clientId, { response_mode: "form_post" }));
    expect(res.status).toBe(200);
    expect(res.headers.get("location")).toBeNull();
    expect(res.headers.get("cache-control")).toBe("no-store");
    const csp = res.headers.get("content-security-policy")!;
    const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1];
    expect(nonce).toBeTruthy();
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain("unsafe-inline");

    const html = await res.text();
    expect(html).toMatch(new RegExp(`<form method="post" action="${REDIRECT.replace(/[.]/g, "\\.")}"`));
    expect(html).toContain(`<script nonce="${nonce}">`);
    expect(html).toContain(".submit()");
    const fields = hiddenFields(html);
    expect(fields.access_token).toBeTruthy();
    expect(fields).toMatchObject({ token_type: "Bearer", expires_in: "3600", scope: "read", state: STATE, iss: ISSUER });
    expect(fields.refresh_token).toBeUndefined();
    expect(html).not.toContain("<implicit>");

    // A fresh nonce for every response.
    const again = await browser.get(authorizeUrl(tokenRequest(clientId, { response_mode: "form_post" })));
    expect(again.status).toBe(200);
    expect(again.headers.get("content-security-policy")).not.toContain(nonce);
  });
});
