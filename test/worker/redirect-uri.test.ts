import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { redirectParams } from "./support/browser";
import { BASE, createClient, ISSUER } from "./support/helpers";
import { authorizeUrl, CHALLENGE, exchangeCode, expectTokenError, expectTokens, getCode, REDIRECT, signedIn } from "./support/flow";

/**
 * RFC 6749 §4.1.2.1 and §3.1.2, RFC 9700 §4.1.3 (exact matching), RFC 8252 §7.3 (loopback ports):
 * a request whose client or redirect URI cannot be trusted is answered with an error page,
 * never a redirect, so the endpoint is no open redirector.
 */

const OTHER = "https://app.example.com/other";

const authorize = (params: Record<string, string | undefined>) =>
  SELF.fetch(`${BASE}${authorizeUrl(params)}`, { redirect: "manual" });

/** Everything in the request but the client and redirect URI is wrong too: none of it may be redirected. */
const badRest = { response_type: "nonsense", scope: "admin", state: "s1" };

async function expectErrorPage(res: Response) {
  const html = await res.text();
  expect(res.status, html).toBe(400);
  expect(res.headers.get("location")).toBeNull();
  expect(res.headers.get("content-type")).toMatch(/^text\/html/);
  expect(res.headers.get("cache-control")).toBe("no-store");
  expect(res.headers.get("x-frame-options")).toBe("DENY");
  expect(html).toContain("invalid_request");
  return html;
}

/** The request was accepted: its error went to `redirectUri`, with state and iss. */
function expectRedirectedTo(res: Response, redirectUri: string) {
  expect(res.status).toBe(303);
  const params = redirectParams(res);
  expect(`${params.location.origin}${params.location.pathname}`).toBe(redirectUri);
  expect(params.get("error")).toBeTruthy();
  expect(params.get("state")).toBe("s1");
  expect(params.get("iss")).toBe(ISSUER);
  return params;
}

describe("untrusted client or redirect URI: an error page, no redirect", () => {
  it("missing client_id", async () => {
    await expectErrorPage(await authorize({ redirect_uri: REDIRECT, ...badRest }));
  });

  it("unknown client_id", async () => {
    await expectErrorPage(await authorize({ client_id: "no-such-client", redirect_uri: REDIRECT, ...badRest }));
  });

  it("missing redirect_uri when the client registered several", async () => {
    const { clientId } = await createClient({ grantTypes: ["authorization_code"], redirectUris: [REDIRECT, OTHER] });
    await expectErrorPage(await authorize({ client_id: clientId, ...badRest }));
  });

  it("an unregistered redirect_uri, and every near miss of the registered one", async () => {
    const registered = "https://app.example.com:8443/callback";
    const { clientId } = await createClient({ grantTypes: ["authorization_code"], redirectUris: [registered, REDIRECT] });
    const nearMisses = [
      "https://evil.example/callback",
      "https://app.example.com:8443/Callback", // case of the path
      "https://APP.example.com:8443/callback", // case of the host: still not the registered string
      "https://app.example.com:8443/callback/", // trailing slash
      "https://app.example.com:8443/callback?x=1", // extra query
      "https://app.example.com:8443/callback#frag", // added fragment
      "https://app.example.com:9443/callback", // another port on a non-loopback host
      "https://app.example.com/callback/../callback",
      "https://app.example.com.evil.example/callback",
      "https://app.example.com@evil.example/callback",
      "http://app.example.com/callback", // http instead of https
      "/callback", // relative
    ];
    for (const redirectUri of nearMisses) {
      const res = await authorize({ client_id: clientId, redirect_uri: redirectUri, ...badRest });
      expect(res.status, redirectUri).toBe(400);
      await expectErrorPage(res);
    }
    // The registered strings themselves are accepted (the errors above are not for another reason).
    expectRedirectedTo(await authorize({ client_id: clientId, redirect_uri: registered, ...badRest }), registered);
    expectRedirectedTo(await authorize({ client_id: clientId, redirect_uri: REDIRECT, ...badRest }), REDIRECT);
  });

  it("a redirect_uri of another client", async () => {
    const { clientId } = await createClient({ grantTypes: ["authorization_code"], redirectUris: [REDIRECT] });
    await createClient({ grantTypes: ["authorization_code"], redirectUris: [OTHER] });
    await expectErrorPage(await authorize({ client_id: clientId, redirect_uri: OTHER, ...badRest }));
  });
});

describe("loopback redirect URIs (RFC 8252 §7.3)", () => {
  it("accept any port for a registered loopback IP URI", async () => {
    const { clientId } = await createClient({
      clientType: "public",
      grantTypes: ["authorization_code"],
      redirectUris: ["http://127.0.0.1/cb", "http://[::1]/cb"],
    });
    for (const redirectUri of ["http://127.0.0.1:51234/cb", "http://127.0.0.1/cb", "http://127.0.0.1:80/cb", "http://[::1]:8080/cb"]) {
      const res = await authorize({ client_id: clientId, redirect_uri: redirectUri, ...badRest });
      expect(res.status, redirectUri).toBe(303);
      // The response goes to the URI as the client sent it, port included.
      const location = res.headers.get("location")!;
      expect(location.startsWith(`${redirectUri}?error=`), location).toBe(true);
    }
  });

  it("accept a port when the registered URI names another port", async () => {
    const { clientId } = await createClient({ clientType: "public", grantTypes: ["authorization_code"], redirectUris: ["http://127.0.0.1:8000/cb"] });
    expectRedirectedTo(await authorize({ client_id: clientId, redirect_uri: "http://127.0.0.1:9000/cb", ...badRest }), "http://127.0.0.1:9000/cb");
  });

  it("do not accept another path, query, scheme or host", async () => {
    const { clientId } = await createClient({ clientType: "public", grantTypes: ["authorization_code"], redirectUris: ["http://127.0.0.1/cb"] });
    for (const redirectUri of [
      "http://127.0.0.1:51234/other",
      "http://127.0.0.1:51234/cb/",
      "http://127.0.0.1:51234/cb?x=1",
      "http://127.0.0.1:51234/cb#x",
      "https://127.0.0.1:51234/cb",
      "http://127.0.0.2:51234/cb",
      "http://localhost:51234/cb",
      "http://evil.example@127.0.0.1:51234/cb",
      "http://127.0.0.1:51234@evil.example/cb",
    ]) {
      const res = await authorize({ client_id: clientId, redirect_uri: redirectUri, ...badRest });
      expect(res.status, redirectUri).toBe(400);
      expect(res.headers.get("location"), redirectUri).toBeNull();
    }
  });
});

describe("the redirect URI the response goes to", () => {
  it("keeps a registered URI's own query and appends the response parameters", async () => {
    const registered = "https://app.example.com/cb?tenant=a&x=%20y";
    const { clientId, clientSecret } = await createClient({ grantTypes: ["authorization_code"], redirectUris: [registered] });
    const failed = await authorize({ client_id: clientId, redirect_uri: registered, ...badRest });
    expect(failed.status).toBe(303);
    expect(failed.headers.get("location")!.startsWith(`${registered}&`)).toBe(true);
    expect(redirectParams(failed).get("error")).toBe("unsupported_response_type");

    const { browser } = await signedIn();
    const code = await getCode(browser, { response_type: "code", client_id: clientId, redirect_uri: registered, state: "s2" });
    const again = { response_type: "code", client_id: clientId, redirect_uri: registered, state: "s3", approval_prompt: "auto" };
    const location = (await browser.get(authorizeUrl(again)))
      .headers.get("location")!;
    expect(location.startsWith(`${registered}&code=`)).toBe(true);
    const params = new URL(location).searchParams;
    expect(params.get("tenant")).toBe("a");
    expect(params.get("x")).toBe(" y");
    expect(params.get("state")).toBe("s3");
    expect(params.get("iss")).toBe(ISSUER);

    const client = { clientId, clientSecret };
    await expectTokens(await exchangeCode(client, code, { redirect_uri: registered, code_verifier: undefined }));
  });

  it("uses the only registered URI when redirect_uri is missing; the token request then need not repeat it", async () => {
    const { clientId, clientSecret } = await createClient({ clientType: "confidential", grantTypes: ["authorization_code"], redirectUris: [REDIRECT] });
    const client = { clientId, clientSecret };
    const { browser } = await signedIn();
    const request = { response_type: "code", client_id: clientId, state: "s4", code_challenge: CHALLENGE, code_challenge_method: "S256" };
    const code = await getCode(browser, request);
    // Without redirect_uri: accepted.
    await expectTokens(await exchangeCode(client, code, { redirect_uri: undefined }));
    // A second code: a redirect_uri that is not the one used is refused.
    const code2 = await getCode(browser, request);
    await expectTokenError(await exchangeCode(client, code2, { redirect_uri: OTHER }), "invalid_grant");
  });
});
