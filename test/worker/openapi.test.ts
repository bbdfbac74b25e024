/**
 * The OpenAPI document and its reference page against the routes: the document describes exactly
 * the provider's endpoints (not the ready Worker's), under the issuer's origin and the mount path
 * it is served at, and every route createProvider registers is in it with the same methods.
 */
import { env, SELF } from "cloudflare:test";
import type { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { createProvider } from "../../src/provider";
import type { Json } from "../../src/routes/openapi-components";
import { openapiDocument, operationsOf, type OpenApiDocument } from "../../src/routes/openapi-document";
import { ReferencePage, type ReferencePageProps } from "../../src/views/reference-page";
import { BASE, ISSUER } from "./support/helpers";

type App = Hono<never> | ReturnType<typeof createProvider>;
type Fetch = (url: string, init?: RequestInit) => Promise<Response>;

/** Requests to an app, or (`worker`) to the ready Worker. */
const to = (app: App): Fetch => (url, init) => Promise.resolve(app.request(url, init, env));
const worker: Fetch = (url, init) => SELF.fetch(url, init);

/** The ready Worker's own routes (src/index.ts): never in the provider's document. */
const WORKER_PATHS = ["/", "/api/me", "/healthz", "/demo/callback"];

async function served(fetch: Fetch, url: string): Promise<OpenApiDocument> {
  const res = await fetch(url);
  expect(res.status, url).toBe(200);
  return res.json<OpenApiDocument>();
}

/** A path with each parameter as `{}`: the router's `:clientId` and the document's `{client_id}` alike. */
const withParameters = (path: string) => path.replace(/\/(?::[^/]+|%7B[^/]*%7D)/g, "/{}");

/** Every documented operation as "METHOD /absolute/path": the path after its server's path. */
function documented(document: OpenApiDocument): string[] {
  return operationsOf(document).map(({ method, url }) => `${method.toUpperCase()} ${withParameters(new URL(url).pathname)}`);
}

/**
 * What the router and the document disagree on. Routes: the app's GET and POST handlers (the
 * "ALL" entries are middleware and 405 fallbacks), each trailing-slash twin once. Preflights
 * (OPTIONS) are answered by the CORS middleware, so they are checked by requests below.
 */
function differences(app: App, document: OpenApiDocument) {
  const routes = app.routes.filter((route) => route.method !== "ALL").map((route) => `${route.method} ${withParameters(route.path)}`);
  const registered = new Set(routes.filter((route) => !routes.includes(`${route}/`)));
  const described = new Set(documented(document).filter((operation) => !operation.startsWith("OPTIONS ")));
  return {
    undocumented: [...registered].filter((route) => !described.has(route)).sort(),
    unrouted: [...described].filter((operation) => !registered.has(operation)).sort(),
  };
}

/** A provider mounted elsewhere in a host's own Worker, with its issuer configured. */
function mountedElsewhere(basePath: string, issuer?: string) {
  return createProvider({ basePath, settings: issuer ? { ISSUER: issuer } : {} });
}

/** A provider that answers every documented operation: dynamic registration (off by default: 404) on. */
const everyEndpoint = (basePath?: string) => createProvider({ basePath, settings: { DYNAMIC_REGISTRATION: "open", OPERATOR_CONSOLE: true } });

function send(fetch: Fetch, method: string, url: string): Promise<Response> {
  const hasBody = method === "POST" || method === "PUT";
  return fetch(url, {
    method,
    redirect: "manual",
    headers: hasBody ? { "content-type": "application/x-www-form-urlencoded" } : {},
    body: hasBody ? "" : undefined,
  });
}

describe("openapi.json of the ready Worker (mounted at /o)", () => {
  it("is served as JSON to any origin, cached for five minutes, and built from the endpoint table", async () => {
    const res = await SELF.fetch(`${ISSUER}/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(res.headers.get("cache-control")).toBe("public, max-age=300");
    const document = await res.json<OpenApiDocument>();
    expect(document.openapi).toBe("3.1.0");
    expect(document).toEqual(JSON.parse(JSON.stringify(openapiDocument(ISSUER))));
  });

  it("names the issuer's origin and mount path as its server, and paths relative to it", async () => {
    const document = await served(worker, `${ISSUER}/openapi.json`);
    expect(document.servers.map((server) => server.url)).toEqual([ISSUER]);
    expect(Object.keys(document.paths)).toContain("/token/");
    expect(Object.keys(document.paths).filter((path) => path.startsWith("/o/"))).toEqual([]);
    // RFC 8414's address is outside the mount path: its own server, the origin.
    expect(document.paths["/.well-known/oauth-authorization-server/o"]?.servers).toEqual([{ url: BASE }]);
    expect(document.paths["/.well-known/openid-configuration/o"]?.servers).toEqual([{ url: BASE }]);
    expect(document.paths["/token/"]?.servers).toBeUndefined();
  });

  it("follows the request's host when no ISSUER is set (an allowed host), never a host the server refuses", async () => {
    const local = await served(worker, "http://localhost/o/openapi.json");
    expect(local.servers[0]?.url).toBe("http://localhost/o");
    const refused = await SELF.fetch("https://evil.example/o/openapi.json");
    expect(refused.status).toBe(400);
    expect(await refused.text()).not.toContain("evil.example");
  });

  it("lists none of the ready Worker's own routes, and no hard-coded server", async () => {
    const res = await SELF.fetch(`${ISSUER}/openapi.json`);
    const text = await res.text();
    const document = JSON.parse(text) as OpenApiDocument;
    const urls = operationsOf(document).map(({ url }) => new URL(url).pathname);
    expect(urls.filter((path) => WORKER_PATHS.includes(path))).toEqual([]);
    expect(document.tags.map((tag) => tag.name)).not.toContain("Ready Worker");
    for (const fragment of ["/api/me", "/healthz", "/demo/callback", "127.0.0.1:8787"]) expect(text).not.toContain(fragment);
  });

  it("describes client_secret_basic and bearer as schemes, and client_secret_post as body fields", async () => {
    const document = await served(worker, `${ISSUER}/openapi.json`);
    const { securitySchemes, schemas } = document.components;
    expect(securitySchemes.clientSecretBasic).toMatchObject({ type: "http", scheme: "basic" });
    expect(securitySchemes.bearer).toMatchObject({ type: "http", scheme: "bearer" });
    expect(schemas.ClientAuthenticationFields?.properties).toMatchObject({ client_id: { type: "string" }, client_secret: { type: "string" } });
    for (const request of ["AuthorizationCodeTokenRequest", "RevocationRequest", "IntrospectionRequest"]) {
      expect(schemas[request]?.allOf, request).toContainEqual({ $ref: "#/components/schemas/ClientAuthenticationFields" });
    }
    expect(document.paths["/token/"]?.post?.security).toEqual([{ clientSecretBasic: [] }, {}]);
    expect(document.paths["/userinfo/"]?.get?.security).toEqual([{ bearer: ["openid"] }, { dpop: ["openid"] }]);
    // RFC 9449: the DPoP scheme, the proof header at the token endpoint and UserInfo.
    expect(securitySchemes.dpop).toMatchObject({ type: "http", scheme: "DPoP" });
    for (const path of ["/token/", "/userinfo/"]) {
      const operation = document.paths[path]?.post;
      expect(JSON.stringify(operation?.parameters), path).toContain("#/components/parameters/DPoP");
    }
  });

  it("every operation has responses and a unique operationId, and every $ref resolves", async () => {
    const document = await served(worker, `${ISSUER}/openapi.json`);
    const resolve = (ref: string) =>
      ref
        .replace(/^#\//, "")
        .split("/")
        .reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], document);
    const refs: string[] = [];
    const walk = (node: Json | undefined): void => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (node && typeof node === "object") {
        for (const [key, value] of Object.entries(node)) {
          if (key === "$ref" && typeof value === "string") refs.push(value);
          else walk(value);
        }
      }
    };
    walk(document as unknown as Json);
    expect(refs.length).toBeGreaterThan(50);
    expect(refs.filter((ref) => resolve(ref) === undefined)).toEqual([]);
    const operations = operationsOf(document);
    for (const { method, path, operation } of operations) {
      expect(Object.keys(operation.responses).length, `${method} ${path}`).toBeGreaterThan(0);
    }
    const ids = operations.map(({ operation }) => operation.operationId);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe("a provider mounted at another path in a host's Worker", () => {
  it("serves its document under its own mount path, with servers from ISSUER whatever host was asked", async () => {
    const app = mountedElsewhere("/auth/v2", "https://id.example.org/auth/v2");
    for (const url of ["https://id.example.org/auth/v2/openapi.json", `${BASE}/auth/v2/openapi.json`]) {
      const document = await served(to(app), url);
      expect(document.servers).toEqual([{ url: "https://id.example.org/auth/v2", description: "The provider's endpoints" }]);
      expect(document.paths["/.well-known/oauth-authorization-server/auth/v2"]?.servers).toEqual([{ url: "https://id.example.org" }]);
      expect(document.paths["/.well-known/oauth-authorization-server/o"]).toBeUndefined();
      expect(JSON.stringify(document)).not.toMatch(/\/o\//);
      expect(document.components.schemas.ServerMetadata?.example).toMatchObject({ token_endpoint: "https://id.example.org/auth/v2/token/" });
    }
    expect((await to(app)(`${BASE}/o/openapi.json`)).status).toBe(404);
  });

  it("each server URL gets its own document (one per isolate and server URL, not the first one asked)", async () => {
    const app = mountedElsewhere("/auth/v2");
    const viaLocalhost = await served(to(app), "http://localhost/auth/v2/openapi.json");
    const viaBase = await served(to(app), `${BASE}/auth/v2/openapi.json`);
    expect(viaLocalhost.servers[0]?.url).toBe("http://localhost/auth/v2");
    expect(viaBase.servers[0]?.url).toBe(`${BASE}/auth/v2`);
  });

  it("mounted at the root, the RFC 8414 addresses are the mount path's own (listed once)", async () => {
    const document = await served(to(mountedElsewhere("")), `${BASE}/openapi.json`);
    expect(document.servers[0]?.url).toBe(BASE);
    expect(Object.values(document.paths).filter((item) => item.servers)).toEqual([]);
    expect(Object.keys(document.paths)).toContain("/.well-known/oauth-authorization-server");
  });
});

describe("the document against the routes (createProvider's router)", () => {
  const mounts: [string, string][] = [
    ["/o", ISSUER],
    ["/auth/v2", `${BASE}/auth/v2`],
    ["", BASE],
  ];

  it.each(mounts)("mounted at %j: every route is documented and every documented operation is routed", async (basePath, base) => {
    const app = createProvider({ basePath });
    const document = await served(to(app), `${base}/openapi.json`);
    expect(differences(app, document)).toEqual({ undocumented: [], unrouted: [] });
  });

  it("the check fails on a route missing from the document, or a documented operation with no route", async () => {
    const app = createProvider();
    app.get("/o/undocumented", (c) => c.text("x"));
    const document = await served(to(app), `${ISSUER}/openapi.json`);
    delete document.paths["/introspect/"];
    document.paths["/token/"] = { ...document.paths["/token/"], get: document.paths["/userinfo/"]!.get! };
    expect(differences(app, document)).toEqual({
      undocumented: ["GET /o/undocumented", "POST /o/introspect/"],
      unrouted: ["GET /o/token/"],
    });
  });

  it.each(mounts)("mounted at %j: each documented operation is answered, and OPTIONS exactly where documented", async (basePath, base) => {
    const app = everyEndpoint(basePath);
    const document = await served(to(app), `${base}/openapi.json`);
    for (const { method, path, url } of operationsOf(document)) {
      const res = await send(to(app), method.toUpperCase(), url);
      await res.body?.cancel();
      expect(res.status, `${method} ${path}`).not.toBe(404);
      expect(res.status, `${method} ${path}`).not.toBe(405);
    }
    for (const [path, item] of Object.entries(document.paths)) {
      const url = `${item.servers?.[0]?.url ?? base}${path}`;
      const preflight = await send(to(app), "OPTIONS", url);
      await preflight.body?.cancel();
      expect(preflight.status === 204, `OPTIONS ${path}`).toBe(item.options !== undefined);
    }
  });

  it("paths ending with / also answer without it", async () => {
    const provider = to(everyEndpoint());
    const document = await served(provider, `${ISSUER}/openapi.json`);
    for (const { method, url } of operationsOf(document).filter((op) => op.path.endsWith("/"))) {
      const res = await send(provider, method.toUpperCase(), url.slice(0, -1));
      await res.body?.cancel();
      expect(res.status, `${method} ${url.slice(0, -1)}`).not.toBe(404);
    }
  });
});

describe("the reference page", () => {
  it("is served at {basePath}/openapi: a page with the pages' headers, every operation, and a link to the JSON", async () => {
    const res = await SELF.fetch(`${ISSUER}/openapi`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain("script-src");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    const html = await res.text();
    expect(html).toMatch(/^<!doctype html>/i);
    expect(html).not.toMatch(/<script/i);
    expect(html).toContain(`href="${ISSUER}/openapi.json"`);
    const document = openapiDocument(ISSUER);
    for (const { method, url, operation } of operationsOf(document)) {
      expect(html).toContain(`id="${operation.operationId}"`);
      expect(html).toContain(`<span class="method">${method.toUpperCase()}</span> ${url}</h2>`);
    }
    // Parameters, body fields and responses of one endpoint.
    expect(html).toContain("<code>code_challenge_method</code>");
    expect(html).toContain("<code>code_verifier</code>");
    expect(html).toContain("AuthorizationCodeTokenRequest");
    expect(html).toContain("<td>413</td>");
    // The descriptions' quotes are text, escaped.
    expect(html).toContain("<code>{&quot;active&quot;: false}</code>");
  });

  it("of a provider mounted elsewhere links to its own document", async () => {
    const app = mountedElsewhere("/auth/v2", "https://id.example.org/auth/v2");
    const html = await (await to(app)(`${BASE}/auth/v2/openapi`)).text();
    expect(html).toContain('href="https://id.example.org/auth/v2/openapi.json"');
    expect(html).toContain("https://id.example.org/.well-known/oauth-authorization-server/auth/v2</h2>");
    expect(html).not.toContain(`${BASE}/o/`);
  });

  it("escapes whatever the document says (text, never markup)", async () => {
    const hostile = '<script>alert("x")</script>';
    const props: ReferencePageProps = {
      title: hostile,
      version: "1",
      description: `a \`${hostile}\` b`,
      serverUrl: "https://a.example",
      jsonUrl: 'https://a.example/"><script>',
      schemes: [{ name: hostile, description: hostile }],
      operations: [
        {
          id: '"><script>',
          method: "GET",
          url: hostile,
          summary: hostile,
          description: hostile,
          security: [hostile],
          parameters: [{ name: hostile, in: "query", type: hostile, required: true, description: hostile }],
          body: { mediaType: hostile, variants: [{ title: hostile, description: hostile, fields: [] }] },
          responses: [{ status: hostile, description: hostile, mediaTypes: [hostile] }],
        },
      ],
    };
    const html = String(await ReferencePage(props));
    expect(html).not.toMatch(/<script/i);
    expect(html).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
    expect(html).toContain("<code>&lt;script&gt;");
  });
});
