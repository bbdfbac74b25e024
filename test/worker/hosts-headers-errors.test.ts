import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createProvider } from "../../src/provider";
import { Browser, redirectParams } from "./support/browser";
import { authorizeUrl, codeRequest, refresh, signedIn, tokenRequest, REDIRECT } from "./support/flow";
import { basic, BASE, createClient, form, ISSUER, postToken } from "./support/helpers";

/** Issue #8, items 10, 11 and 13: the strings that leave the server, the host and issuer, headers on every response. */

const DESCRIPTION = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;
/** Client input that must never come back: a quote, a backslash, non-ASCII and a marker to look for. */
const EVIL = 'zz"\\é<script>MARKER';

function expectCleanDescription(description: string | null | undefined) {
  expect(description, "error_description").toBeTruthy();
  expect(description).toMatch(DESCRIPTION);
  expect(description).not.toContain("MARKER");
}

async function expectJsonError(res: Response) {
  const body = await res.json<{ error: string; error_description: string }>();
  expectCleanDescription(body.error_description);
  if (res.status === 401) expect(res.headers.get("www-authenticate")).toBeTruthy();
  return body;
}

describe("error_description: RFC 6749 §5.2 characters, never the client's input (item 10)", () => {
  it("at the token, revocation and introspection endpoints", async () => {
    const { clientId, clientSecret } = await createClient({ grantTypes: ["client_credentials", "refresh_token"] });
    const auth = { authorization: basic(clientId, clientSecret) };
    const requests: Response[] = [
      await postToken({ grant_type: EVIL }, auth),
      await postToken({ grant_type: "client_credentials", scope: EVIL }, auth),
      await postToken({ grant_type: "client_credentials", scope: "readMARKER" }, auth),
      await postToken({ grant_type: "client_credentials", client_id: EVIL, client_secret: EVIL }),
      await postToken(`grant_type=client_credentials&${encodeURIComponent(EVIL)}=1&${encodeURIComponent(EVIL)}=2`, auth),
      await refresh({ clientId, clientSecret }, EVIL),
      await SELF.fetch(`${BASE}/o/revoke_token/`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", ...auth },
        body: form({ token: "x", token_type_hint: EVIL }),
      }),
      await SELF.fetch(`${BASE}/o/introspect/`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(EVIL, EVIL) },
        body: form({ token: "x" }),
      }),
    ];
    for (const res of requests) {
      expect(res.status).toBeGreaterThanOrEqual(400);
      await expectJsonError(res);
    }
  });

  it("in authorization error redirects", async () => {
    const { clientId } = await createClient({ clientType: "public", grantTypes: ["authorization_code"], redirectUris: [REDIRECT] });
    const { browser } = await signedIn();
    const claims = JSON.stringify({ id_token: { [EVIL]: { essential: "yes" } } });
    for (const extra of [
      { response_type: EVIL },
      { response_mode: EVIL },
      { prompt: EVIL },
      { scope: EVIL },
      { code_challenge_method: EVIL },
      { scope: "openid", claims },
      { approval_prompt: EVIL },
    ]) {
      const res = await browser.get(authorizeUrl(codeRequest(clientId, extra)));
      expect(res.status, JSON.stringify(extra)).toBe(303);
      const out = redirectParams(res);
      expect(out.get("error")).toBeTruthy();
      expectCleanDescription(out.get("error_description"));
    }
  });

  it("on the login form, a failed sign-in is not a 401 (a 401 needs a challenge)", async () => {
    const browser = new Browser();
    const page = await browser.get("/o/login/");
    const fields = Object.fromEntries([...(await page.text()).matchAll(/name="([^"]+)" value="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    const res = await browser.post("/o/login/", { ...fields, username: "nobody", password: "wrong password" });
    expect(res.status).toBe(400);
  });

  it("the login page's next accepts only the authorization endpoint, without control characters", async () => {
    for (const next of ["//evil.example/o/authorize/?x", "https://evil.example/", "/o/authorize/?a=\u0001", "/o/authorize/?a=\\b", "/elsewhere"]) {
      const res = await SELF.fetch(`${BASE}/o/login/?next=${encodeURIComponent(next)}`);
      expect(await res.text()).not.toContain('name="next"');
    }
  });
});

describe("hosts and the issuer (item 11)", () => {
  it("a request for a host that is not allowed gets 400, and discovery never follows a spoofed Host", async () => {
    for (const path of ["/o/.well-known/openid-configuration", "/o/token/", "/o/authorize/", "/api/me", "/"]) {
      const res = await SELF.fetch(`https://attacker.example${path}`);
      expect(res.status, path).toBe(400);
      expect(await res.text()).not.toContain("attacker.example");
    }
    const metadata = await (await SELF.fetch(`${BASE}/o/.well-known/openid-configuration`)).json<Record<string, string>>();
    expect(metadata.issuer).toBe(ISSUER);
    expect(metadata.token_endpoint).toBe(`${ISSUER}/token/`);
  });

  it("with neither ISSUER nor ALLOWED_HOSTS, only loopback hosts are answered", async () => {
    const app = createProvider();
    const bare = { ...env, ALLOWED_HOSTS: undefined };
    expect((await app.request("http://127.0.0.1:8787/o/.well-known/jwks.json", {}, bare)).status).toBe(200);
    expect((await app.request("http://localhost:8787/o/.well-known/jwks.json", {}, bare)).status).toBe(200);
    expect((await app.request("https://auth.example.com/o/.well-known/jwks.json", {}, bare)).status).toBe(400);
  });

  it("ISSUER decides the issuer and every advertised endpoint: its origin plus the mount path", async () => {
    const app = createProvider({ settings: { ISSUER: "https://id.example.com/o" } });
    const bare = { ...env, ALLOWED_HOSTS: undefined };
    const res = await app.request("https://id.example.com/o/.well-known/openid-configuration", {}, bare);
    const metadata = await res.json<Record<string, string>>();
    expect(metadata.issuer).toBe("https://id.example.com/o");
    for (const name of ["authorization_endpoint", "token_endpoint", "jwks_uri", "introspection_endpoint", "end_session_endpoint"]) {
      expect(metadata[name]!.startsWith("https://id.example.com/o/")).toBe(true);
    }
    expect((await app.request("https://other.example.com/o/.well-known/openid-configuration", {}, bare)).status).toBe(400);
  });

  it("an ISSUER whose path is not the mount path is a configuration error, never 404 endpoints", async () => {
    const errors: unknown[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => void errors.push(JSON.stringify(args));
    try {
      const app = createProvider({ settings: { ISSUER: "https://id.example.com" } });
      const res = await app.request("https://id.example.com/o/.well-known/openid-configuration", {}, env);
      expect(res.status).toBe(500);
      expect((await res.json<{ error: string }>()).error).toBe("server_error");
    } finally {
      console.error = original;
    }
    expect(String(errors)).toMatch(/ISSUER.*\/o/);
  });
});

describe("headers on every response (item 13)", () => {
  it("nosniff and X-Frame-Options everywhere, a referrer policy on pages; HSTS on https only", async () => {
    const { clientId, clientSecret } = await createClient();
    const responses = [
      await tokenRequest({ clientId, clientSecret }, { grant_type: "client_credentials" }),
      await SELF.fetch(`${ISSUER}/.well-known/jwks.json`),
      await SELF.fetch(`${BASE}/api/me`),
      await SELF.fetch(`${BASE}/`),
      await SELF.fetch(`${ISSUER}/login/`),
    ];
    for (const res of responses) {
      expect(res.headers.get("x-content-type-options"), res.url).toBe("nosniff");
      const page = res.headers.get("content-type")?.startsWith("text/html");
      expect(Boolean(res.headers.get("referrer-policy")), res.url).toBe(Boolean(page));
      expect(res.headers.get("x-frame-options"), res.url).toBe("DENY");
      expect(res.headers.get("strict-transport-security"), res.url).toMatch(/max-age=\d+/);
    }
    const local = await SELF.fetch("http://localhost:8787/o/login/");
    expect(local.headers.get("strict-transport-security")).toBeNull();
    expect(local.headers.get("x-content-type-options")).toBe("nosniff");
  });

  it("every page starts with <!doctype html>, custom renderers' too, and pages keep their own policies", async () => {
    const login = await SELF.fetch(`${ISSUER}/login/`);
    expect(login.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    expect(login.headers.get("referrer-policy")).toBe("same-origin");
    expect((await login.text()).toLowerCase().startsWith("<!doctype html>")).toBe(true);
    const app = createProvider({ pages: { error: (props) => `<h1>${props.error}</h1>` } });
    const page = await app.request(`${ISSUER}/authorize/?client_id=unknown`, {}, env);
    expect((await page.text()).startsWith("<!doctype html><h1>")).toBe(true);
    expect(page.headers.get("x-frame-options")).toBe("DENY");
  });
});
