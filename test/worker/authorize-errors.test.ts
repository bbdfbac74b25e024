import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { redirectParams } from "./support/browser";
import { BASE, createClient, ISSUER } from "./support/helpers";
import { authorizeUrl, CHALLENGE, getCode, REDIRECT, signedIn } from "./support/flow";

/**
 * RFC 6749 §4.1.2.1 / §4.2.2.1: once the client and redirect URI are trusted, every error is sent
 * to the redirect URI with `error`, `error_description` and `state`, plus `iss` (RFC 9207). No
 * code or token goes with it, and the user is not asked to sign in first.
 */

const STATE = "st-<&>\"'-123";
const get = (params: Record<string, string | undefined>) => SELF.fetch(`${BASE}${authorizeUrl(params)}`, { redirect: "manual" });

function expectRedirectError(res: Response, error: string, mode: "query" | "fragment" = "query") {
  expect(res.status, res.headers.get("location") ?? "").toBe(303);
  const params = redirectParams(res);
  expect(`${params.location.origin}${params.location.pathname}`).toBe(REDIRECT);
  if (mode === "fragment") expect(params.location.search).toBe("");
  else expect(params.location.hash).toBe("");
  expect(params.get("error"), params.get("error_description") ?? "").toBe(error);
  expect(params.get("error_description")!.length).toBeGreaterThan(5);
  expect(params.get("state")).toBe(STATE);
  expect(params.get("iss")).toBe(ISSUER);
  for (const leaked of ["code", "access_token", "id_token", "refresh_token"]) expect(params.get(leaked)).toBeNull();
  return params;
}

let confidential: string; // authorization_code, scope read write
let publicClient: string; // authorization_code, public
let implicitClient: string; // implicit only
let readOnly: string; // authorization_code, scope read

beforeAll(async () => {
  confidential = (await createClient({ grantTypes: ["authorization_code"], redirectUris: [REDIRECT] })).clientId;
  publicClient = (await createClient({ clientType: "public", grantTypes: ["authorization_code"], redirectUris: [REDIRECT] })).clientId;
  implicitClient = (await createClient({ clientType: "public", grantTypes: ["implicit"], redirectUris: [REDIRECT] })).clientId;
  readOnly = (await createClient({ grantTypes: ["authorization_code"], redirectUris: [REDIRECT], scope: "read" })).clientId;
});

const codeParams = (clientId: string, extra: Record<string, string | undefined> = {}) => ({
  response_type: "code",
  client_id: clientId,
  redirect_uri: REDIRECT,
  state: STATE,
  code_challenge: CHALLENGE,
  code_challenge_method: "S256",
  ...extra,
});

describe("a valid request, for comparison, goes on to the login page", () => {
  it("public client with PKCE, and a confidential one without", async () => {
    for (const params of [codeParams(publicClient), codeParams(confidential, { code_challenge: undefined, code_challenge_method: undefined })]) {
      const res = await get(params);
      expect(res.status).toBe(303);
      expect(res.headers.get("location")).toMatch(/^\/o\/login\/\?next=/);
    }
  });
});

describe("response_type", () => {
  it("missing: invalid_request", async () => {
    expectRedirectError(await get(codeParams(confidential, { response_type: undefined })), "invalid_request");
  });

  it("unknown: unsupported_response_type", async () => {
    expectRedirectError(await get(codeParams(confidential, { response_type: "bogus" })), "unsupported_response_type");
  });

  it("a combination this server does not answer: unsupported_response_type (in the fragment, as it names token)", async () => {
    expectRedirectError(await get(codeParams(confidential, { response_type: "token device_code" })), "unsupported_response_type", "fragment");
  });

  it("not allowed for the client: unauthorized_client", async () => {
    expectRedirectError(await get(codeParams(confidential, { response_type: "token" })), "unauthorized_client", "fragment");
    expectRedirectError(await get(codeParams(implicitClient)), "unauthorized_client");
  });
});

describe("scope", () => {
  it("unknown, not allowed for the client, or malformed: invalid_scope", async () => {
    expectRedirectError(await get(codeParams(confidential, { scope: "read admin" })), "invalid_scope");
    expectRedirectError(await get(codeParams(readOnly, { scope: "write" })), "invalid_scope");
    expectRedirectError(await get(codeParams(confidential, { scope: 'read "x"' })), "invalid_scope");
    expectRedirectError(await get(codeParams(confidential, { scope: "constructor" })), "invalid_scope");
  });
});

describe("PKCE (RFC 7636 §4.4.1, OAuth 2.1 §4.1.1)", () => {
  it("a public client without code_challenge: invalid_request", async () => {
    expectRedirectError(await get(codeParams(publicClient, { code_challenge: undefined, code_challenge_method: undefined })), "invalid_request");
  });

  it("code_challenge_method=plain is refused by default (RFC 9700 §2.1.1)", async () => {
    expectRedirectError(await get(codeParams(publicClient, { code_challenge: CHALLENGE, code_challenge_method: "plain" })), "invalid_request");
    // Without a method the default is plain (RFC 7636 §4.3), refused just the same.
    expectRedirectError(await get(codeParams(publicClient, { code_challenge_method: undefined })), "invalid_request");
  });

  it("a code_challenge of the wrong syntax, or an unknown method: invalid_request", async () => {
    for (const code_challenge of ["short", `${CHALLENGE.slice(0, 42)}`, `${CHALLENGE.slice(0, 42)}+`, `${CHALLENGE}=`, "a".repeat(129), `${CHALLENGE.slice(0, 40)} ab`]) {
      expectRedirectError(await get(codeParams(publicClient, { code_challenge })), "invalid_request");
    }
    expectRedirectError(await get(codeParams(publicClient, { code_challenge_method: "S512" })), "invalid_request");
    expectRedirectError(await get(codeParams(confidential, { code_challenge: undefined, code_challenge_method: "S256" })), "invalid_request");
  });
});

describe("request objects and response modes", () => {
  it("request and request_uri are refused (OIDC Core §3.1.2.6)", async () => {
    expectRedirectError(await get(codeParams(confidential, { request: "eyJhbGciOiJub25lIn0.e30." })), "request_not_supported");
    expectRedirectError(await get(codeParams(confidential, { request_uri: "https://app.example.com/req.jwt" })), "request_uri_not_supported");
  });

  it("an unknown response_mode: invalid_request, in the default mode", async () => {
    expectRedirectError(await get(codeParams(confidential, { response_mode: "web_message" })), "invalid_request");
  });

  it("response_mode=query with response_type=token: invalid_request, never in the query", async () => {
    const res = await get({ response_type: "token", response_mode: "query", client_id: implicitClient, redirect_uri: REDIRECT, state: STATE });
    expectRedirectError(res, "invalid_request", "fragment");
  });

  it("errors are posted back with response_mode=form_post", async () => {
    const res = await get(codeParams(confidential, { response_type: "bogus", response_mode: "form_post" }));
    expect(res.status).toBe(200);
    expect(res.headers.get("location")).toBeNull();
    const html = await res.text();
    expect(html).toContain(`action="${REDIRECT}"`);
    expect(html).toContain('name="error" value="unsupported_response_type"');
    expect(html).toContain(`name="iss" value="${ISSUER}"`);
  });

  it("no state in the request: none in the error", async () => {
    const res = await get(codeParams(confidential, { response_type: undefined, state: undefined }));
    expect(res.status).toBe(303);
    const params = redirectParams(res);
    expect(params.get("error")).toBe("invalid_request");
    expect(params.has("state")).toBe(false);
    expect(params.get("iss")).toBe(ISSUER);
  });
});

describe("prompt=none (OIDC Core §3.1.2.6)", () => {
  it("not signed in: login_required", async () => {
    expectRedirectError(await get(codeParams(publicClient, { prompt: "none" })), "login_required");
  });

  it("signed in without consent: consent_required; with consent: a code at once", async () => {
    const { browser } = await signedIn();
    const res = await browser.get(authorizeUrl(codeParams(publicClient, { prompt: "none" })));
    expectRedirectError(res, "consent_required");

    await getCode(browser, codeParams(publicClient));
    const again = await browser.get(authorizeUrl(codeParams(publicClient, { prompt: "none" })));
    expect(again.status).toBe(303);
    expect(redirectParams(again).get("code")).toBeTruthy();
  });

  it("an unknown prompt value, or none with another: invalid_request", async () => {
    expectRedirectError(await get(codeParams(publicClient, { prompt: "bogus" })), "invalid_request");
    expectRedirectError(await get(codeParams(publicClient, { prompt: "none login" })), "invalid_request");
  });
});

describe("repeated parameters (RFC 6749 §3.1): an error page, since none of the request can be trusted", () => {
  it.each(["client_id", "redirect_uri", "state", "response_type", "scope"])("%s twice", async (name) => {
    const query = new URLSearchParams(codeParams(confidential, { scope: "read" }));
    query.append(name, query.get(name)!);
    const res = await SELF.fetch(`${BASE}/o/authorize/?${query}`, { redirect: "manual" });
    const html = await res.text();
    expect(res.status).toBe(400);
    expect(res.headers.get("location")).toBeNull();
    expect(html).toContain("invalid_request");
    expect(html).toContain(name);
  });
});
