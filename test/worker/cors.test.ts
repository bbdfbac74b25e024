import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { Browser } from "./support/browser";
import { basic, BASE, createClient, postToken } from "./support/helpers";
import { authorizeUrl, codeRequest, REDIRECT, unique } from "./support/flow";

/**
 * CORS (Fetch standard) for browser clients: the token endpoint answers origins registered by a
 * client with that very origin (never `*`, since requests carry credentials); everything else,
 * and every HTML page, sends no CORS headers. The JWKS is public.
 */

/** A fresh origin per test: this isolate caches answers, "no" included. */
const newOrigin = () => `https://${unique("spa-")}.example`;

async function clientWithOrigin(origin: string) {
  return createClient({ grantTypes: ["client_credentials"], allowedOrigins: [origin] });
}

const preflight = (origin: string, path = "/o/token/") =>
  SELF.fetch(`${BASE}${path}`, {
    method: "OPTIONS",
    headers: {
      origin,
      "access-control-request-method": "POST",
      "access-control-request-headers": "content-type, authorization, dpop",
    },
  });

const listOf = (header: string | null) => (header ?? "").split(",").map((v) => v.trim().toLowerCase());

function expectNoCors(res: Response) {
  expect(res.headers.get("access-control-allow-origin")).toBeNull();
  expect(res.headers.get("access-control-allow-methods")).toBeNull();
  expect(res.headers.get("access-control-allow-headers")).toBeNull();
}

describe("token endpoint preflight", () => {
  it("a registered origin: 204 echoing that origin, POST, and the headers a client sends", async () => {
    const origin = newOrigin();
    await clientWithOrigin(origin);
    for (const path of ["/o/token/", "/o/token"]) {
      const res = await preflight(origin, path);
      expect(res.status).toBe(204);
      expect(res.headers.get("access-control-allow-origin")).toBe(origin);
      expect(listOf(res.headers.get("access-control-allow-methods"))).toContain("post");
      const headers = listOf(res.headers.get("access-control-allow-headers"));
      for (const name of ["content-type", "authorization", "dpop"]) expect(headers).toContain(name);
      expect(listOf(res.headers.get("vary"))).toContain("origin");
    }
  });

  it("an unregistered origin, a look-alike, or `null`: no CORS headers", async () => {
    const origin = newOrigin();
    await clientWithOrigin(origin);
    for (const other of [newOrigin(), `${origin}:8443`, origin.replace("https:", "http:"), `${origin}.evil.example`, "null"]) {
      const res = await preflight(other);
      expect(res.status).toBeLessThan(500);
      expectNoCors(res);
    }
  });
});

describe("token endpoint responses", () => {
  it("the client's registered origin gets that origin back, never `*`", async () => {
    const origin = newOrigin();
    const { clientId, clientSecret } = await clientWithOrigin(origin);
    const res = await postToken({ grant_type: "client_credentials" }, { authorization: basic(clientId, clientSecret), origin });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe(origin);
    expect(listOf(res.headers.get("vary"))).toContain("origin");
  });

  it("an origin registered by another client gets nothing on this client's response", async () => {
    const origin = newOrigin();
    await clientWithOrigin(origin);
    const { clientId, clientSecret } = await createClient({ grantTypes: ["client_credentials"], allowedOrigins: [newOrigin()] });
    const res = await postToken({ grant_type: "client_credentials" }, { authorization: basic(clientId, clientSecret), origin });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("an unregistered origin gets nothing", async () => {
    const { clientId, clientSecret } = await clientWithOrigin(newOrigin());
    const res = await postToken({ grant_type: "client_credentials" }, { authorization: basic(clientId, clientSecret), origin: newOrigin() });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("no CORS on the browser-facing endpoints", () => {
  it("the authorization endpoint, its preflight, and the login and consent pages", async () => {
    const origin = newOrigin();
    const { clientId } = await createClient({ grantTypes: ["authorization_code", "client_credentials"], redirectUris: [REDIRECT], allowedOrigins: [origin] });
    const url = `${BASE}${authorizeUrl(codeRequest(clientId))}`;
    expectNoCors(await SELF.fetch(url, { headers: { origin }, redirect: "manual" }));
    expectNoCors(await preflight(origin, authorizeUrl(codeRequest(clientId))));
    expectNoCors(await SELF.fetch(`${BASE}/o/login/`, { headers: { origin } }));
    expectNoCors(await SELF.fetch(`${BASE}/o/logout/`, { headers: { origin } }));
    expectNoCors(await SELF.fetch(`${BASE}/o/authorize/?client_id=nope`, { headers: { origin } }));
    const browser = new Browser();
    expectNoCors(await browser.fetch("/o/login/", { method: "POST", headers: { origin, "content-type": "application/x-www-form-urlencoded" }, body: "" }));
  });
});

describe("JWKS", () => {
  it("is readable from any origin: `*`", async () => {
    const res = await SELF.fetch(`${BASE}/o/.well-known/jwks.json`, { headers: { origin: newOrigin() } });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
  });
});
