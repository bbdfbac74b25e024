import { env, SELF } from "cloudflare:test";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { protectedResourceMetadata } from "../../src/middleware/protected-resource";
import { requireToken, type RequireTokenVariables } from "../../src/middleware/require-token";
import { resourceMetadataUrl } from "../../src/oauth/resource";
import { basic, BASE, createClient, ISSUER, postToken } from "./support/helpers";

/**
 * RFC 9728: a protected resource publishes where its authorization server is, and every Bearer
 * challenge points there (`resource_metadata`), so that a client given only the API's URL finds
 * the provider (as MCP clients do). With a `resource`, `requireToken` accepts only tokens whose
 * `aud` names it (RFC 8707), plus any `audience` given besides.
 */

const API = `${BASE}/api`;
const API_METADATA = `${BASE}/.well-known/oauth-protected-resource/api`;

/** A client_credentials token for these resources (none: the default audience) and scope. */
async function tokenFor(resources: string[], scope = "read") {
  const { clientId, clientSecret } = await createClient();
  const body = new URLSearchParams([["grant_type", "client_credentials"], ["scope", scope], ...resources.map((r): [string, string] => ["resource", r])]);
  const res = await postToken(body.toString(), { authorization: basic(clientId, clientSecret) });
  expect(res.status, await res.clone().text()).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

const me = (headers: Record<string, string> = {}, query = "") => SELF.fetch(`${BASE}/api/me${query}`, { headers });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** The fields of a `WWW-Authenticate: Bearer` challenge. */
function challengeOf(res: Response): Record<string, string> {
  const header = res.headers.get("www-authenticate") ?? "";
  expect(header).toMatch(/^Bearer /);
  return Object.fromEntries([...header.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
}

describe("resourceMetadataUrl (RFC 9728 §3.1)", () => {
  it("inserts the well-known path between the host and the resource's path and query", () => {
    expect(resourceMetadataUrl("https://api.example.com/mcp")).toBe("https://api.example.com/.well-known/oauth-protected-resource/mcp");
    expect(resourceMetadataUrl("https://api.example.com/a/b")).toBe("https://api.example.com/.well-known/oauth-protected-resource/a/b");
    expect(resourceMetadataUrl("https://api.example.com/")).toBe("https://api.example.com/.well-known/oauth-protected-resource");
    expect(resourceMetadataUrl("https://api.example.com")).toBe("https://api.example.com/.well-known/oauth-protected-resource");
    expect(resourceMetadataUrl("http://localhost:8787/api?v=2")).toBe("http://localhost:8787/.well-known/oauth-protected-resource/api?v=2");
  });
});

describe("the ready Worker's /api", () => {
  it("publishes its metadata where the challenge points: resource, issuer, scopes, header only; public and readable from any origin", async () => {
    const res = await SELF.fetch(API_METADATA, { headers: { origin: "https://anywhere.example" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(res.headers.get("cache-control")).toMatch(/^public, max-age=\d+$/);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(await res.json()).toEqual({
      resource: API,
      authorization_servers: [ISSUER],
      scopes_supported: ["read"],
      bearer_methods_supported: ["header"],
      dpop_signing_alg_values_supported: ["ES256", "ES384", "RS256", "PS256", "Ed25519", "EdDSA"],
      resource_name: "Example API",
    });
    // The authorization server it names publishes its metadata (RFC 8414) at the issuer's well-known URL.
    const as = await SELF.fetch(`${BASE}/.well-known/oauth-authorization-server/o`);
    expect(((await as.json()) as { issuer: string }).issuer).toBe(ISSUER);
  });

  it("answers a CORS preflight (MCP clients send their protocol version header)", async () => {
    const res = await SELF.fetch(API_METADATA, {
      method: "OPTIONS",
      headers: { origin: "https://anywhere.example", "access-control-request-method": "GET", "access-control-request-headers": "mcp-protocol-version" },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(res.headers.get("access-control-allow-methods")).toBe("GET");
  });

  it("is served only on the hosts the Worker serves", async () => {
    const res = await SELF.fetch("https://attacker.example/.well-known/oauth-protected-resource/api");
    expect(res.status).toBe(400);
  });

  it("401 without a token: the challenge names the metadata URL, and the metadata there names this resource", async () => {
    const res = await me();
    expect(res.status).toBe(401);
    const challenge = challengeOf(res);
    expect(challenge).toEqual({ realm: "api", scope: "read", resource_metadata: API_METADATA });
    const metadata = (await (await SELF.fetch(challenge.resource_metadata!)).json()) as { resource: string };
    // RFC 9728 §3.3: the client checks that the metadata is for the resource it called.
    expect(new URL(`${BASE}/api/me`).href.startsWith(metadata.resource)).toBe(true);
  });

  it("401 invalid_token, 400 invalid_request and 403 insufficient_scope carry resource_metadata too", async () => {
    const invalid = await me(bearer("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"));
    expect(invalid.status).toBe(401);
    expect(challengeOf(invalid)).toMatchObject({ error: "invalid_token", resource_metadata: API_METADATA });

    const inQuery = await me({}, "?access_token=abc");
    expect(inQuery.status).toBe(400);
    expect(challengeOf(inQuery)).toMatchObject({ error: "invalid_request", resource_metadata: API_METADATA });

    const writeOnly = await tokenFor([API], "write");
    const forbidden = await me(bearer(writeOnly));
    expect(forbidden.status).toBe(403);
    expect(challengeOf(forbidden)).toMatchObject({ error: "insufficient_scope", scope: "read", resource_metadata: API_METADATA });
  });

  it("accepts a token for its resource, and one for the default audience (clients that name none)", async () => {
    for (const resources of [[API], [], [API, `${BASE}/mcp`]]) {
      const res = await me(bearer(await tokenFor(resources)));
      expect(res.status, JSON.stringify(resources)).toBe(200);
    }
  });

  it("refuses a token for another resource of the same server, even one under it", async () => {
    for (const other of [`${BASE}/mcp`, `${BASE}/api/v2`, `${BASE}/apiary`]) {
      const res = await me(bearer(await tokenFor([other])));
      expect(res.status, other).toBe(401);
      expect(challengeOf(res)).toMatchObject({ error: "invalid_token", resource_metadata: API_METADATA });
    }
  });
});

describe("requireToken({ resource }) in a Worker of one's own", () => {
  const MCP = `${BASE}/mcp`;
  const mcpApp = (options: Parameters<typeof requireToken>[0]) => {
    const app = new Hono<{ Variables: RequireTokenVariables }>();
    app.get("/.well-known/oauth-protected-resource/mcp", protectedResourceMetadata({ resource: MCP, scopesSupported: ["read"], issuer: ISSUER }));
    app.get("/mcp", requireToken(options), (c) => c.json({ aud: c.get("accessToken").aud }));
    return app;
  };
  const call = (app: Hono<never> | ReturnType<typeof mcpApp>, token?: string) =>
    app.request(`${BASE}/mcp`, { headers: token ? bearer(token) : {} }, env);

  it("without audience, only tokens naming the resource pass: the default audience is refused", async () => {
    const app = mcpApp({ resource: MCP, scopes: ["read"] });
    expect((await call(app, await tokenFor([MCP]))).status).toBe(200);
    expect((await call(app, await tokenFor([MCP, API]))).status).toBe(200);
    const defaultAudience = await call(app, await tokenFor([]));
    expect(defaultAudience.status).toBe(401);
    expect(challengeOf(defaultAudience)).toMatchObject({ error: "invalid_token", resource_metadata: `${BASE}/.well-known/oauth-protected-resource/mcp` });
    expect((await call(app, await tokenFor([API]))).status).toBe(401);
  });

  it("with audience as well, tokens naming either pass", async () => {
    const app = mcpApp({ resource: MCP, audience: BASE });
    expect((await call(app, await tokenFor([MCP]))).status).toBe(200);
    expect((await call(app, await tokenFor([]))).status).toBe(200);
    expect((await call(app, await tokenFor([API]))).status).toBe(401);
  });

  it("a resource from a function of the request, and the metadata it points at", async () => {
    const resource = (c: { req: { url: string } }) => `${new URL(c.req.url).origin}/mcp`;
    const app = new Hono<{ Variables: RequireTokenVariables }>();
    app.get("/.well-known/oauth-protected-resource/mcp", protectedResourceMetadata({ resource, resourceDocumentation: `${BASE}/docs` }));
    app.get("/mcp", requireToken({ resource }), (c) => c.text("ok"));
    const missing = await app.request(`${BASE}/mcp`, {}, env);
    const url = challengeOf(missing).resource_metadata!;
    expect(url).toBe(`${BASE}/.well-known/oauth-protected-resource/mcp`);
    const metadata = await (await app.request(url, {}, env)).json();
    expect(metadata).toEqual({ resource: MCP, authorization_servers: [ISSUER], bearer_methods_supported: ["header"], dpop_signing_alg_values_supported: ["ES256", "ES384", "RS256", "PS256", "Ed25519", "EdDSA"], resource_documentation: `${BASE}/docs` });
    expect((await app.request(`${BASE}/mcp`, { headers: bearer(await tokenFor([MCP])) }, env)).status).toBe(200);
  });

  it("a resource that is no URL in normal form is the operator's mistake: thrown at creation, or 500 server_error per request", async () => {
    for (const bad of ["mcp", "https://EXAMPLE.com/mcp", "https://example.com/mcp#x", "urn:example:mcp"]) {
      expect(() => requireToken({ resource: bad }), bad).toThrow(/resource/);
      expect(() => protectedResourceMetadata({ resource: bad }), bad).toThrow(/resource/);
    }
    const app = new Hono<{ Variables: RequireTokenVariables }>();
    app.get("/.well-known/oauth-protected-resource/mcp", protectedResourceMetadata({ resource: () => "/mcp" }));
    app.get("/mcp", requireToken({ resource: () => "/mcp" }), (c) => c.text("ok"));
    for (const path of ["/mcp", "/.well-known/oauth-protected-resource/mcp"]) {
      const res = await app.request(`${BASE}${path}`, { headers: bearer(await tokenFor([MCP])) }, env);
      expect(res.status, path).toBe(500);
      expect(await res.json()).toMatchObject({ error: "server_error" });
    }
  });
});
