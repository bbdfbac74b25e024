/**
 * openapi.json against the routes: the document is served, every operation it describes is
 * answered by the Worker, and every route of the provider is in it, so the two cannot drift.
 */
import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import document from "../../openapi.json";
import { createProvider } from "../../src/provider";
import { BASE } from "./support/helpers";

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"] as const;

type Operations = Record<string, Partial<Record<(typeof METHODS)[number], unknown>>>;
const paths = document.paths as Operations;

/** Every documented operation as "METHOD /path". */
const documented = Object.entries(paths).flatMap(([path, item]) =>
  METHODS.filter((method) => item[method] !== undefined).map((method) => `${method.toUpperCase()} ${path}`),
);

/**
 * The provider's routes (createProvider, src/provider.ts), each once: the trailing-slash twins are
 * covered by the test below. Adding a route to the provider means adding it here and to openapi.json.
 */
const PROVIDER_ROUTES = [
  "GET /o/authorize/",
  "POST /o/authorize/",
  "POST /o/token/",
  "OPTIONS /o/token/",
  "POST /o/revoke_token/",
  "OPTIONS /o/revoke_token/",
  "POST /o/introspect/",
  "GET /o/userinfo/",
  "POST /o/userinfo/",
  "OPTIONS /o/userinfo/",
  "GET /o/login/",
  "POST /o/login/",
  "GET /o/logout/",
  "POST /o/logout/",
  "GET /o/.well-known/openid-configuration",
  "GET /o/.well-known/oauth-authorization-server",
  "GET /.well-known/oauth-authorization-server/o",
  "GET /.well-known/openid-configuration/o",
  "GET /o/.well-known/jwks.json",
  "GET /o/openapi.json",
];

/** The ready Worker's own routes (src/index.ts). */
const WORKER_ROUTES = ["GET /", "GET /api/me", "OPTIONS /api/me", "GET /healthz", "GET /demo/callback"];

function send(method: string, path: string): Promise<Response> {
  const hasBody = method !== "GET" && method !== "HEAD" && method !== "OPTIONS";
  return SELF.fetch(`${BASE}${path}`, {
    method,
    redirect: "manual",
    headers: hasBody ? { "content-type": "application/x-www-form-urlencoded" } : {},
    body: hasBody ? "" : undefined,
  });
}

describe("openapi.json", () => {
  it("is served at /o/openapi.json, as JSON, to any origin", async () => {
    const res = await SELF.fetch(`${BASE}/o/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(res.headers.get("cache-control")).toMatch(/max-age=\d+/);
    const served = (await res.json()) as typeof document;
    expect(served.openapi).toBe("3.1.0");
    expect(served).toEqual(document);
  });

  it("has no path templates (the test below calls every path as written)", () => {
    expect(Object.keys(paths).filter((path) => path.includes("{"))).toEqual([]);
  });

  it.each(documented)("%s is answered (not 404, not 405)", async (operation) => {
    const [method, path] = operation.split(" ") as [string, string];
    const res = await send(method, path);
    await res.body?.cancel();
    expect(res.status, operation).not.toBe(404);
    expect(res.status, operation).not.toBe(405);
  });

  it("documented /o/ paths also answer without the trailing slash", async () => {
    for (const operation of documented.filter((op) => op.endsWith("/"))) {
      const [method, path] = operation.split(" ") as [string, string];
      const res = await send(method, path.slice(0, -1));
      await res.body?.cancel();
      expect(res.status, `${method} ${path.slice(0, -1)}`).not.toBe(404);
    }
  });

  it("describes every route of the provider and of the ready Worker", () => {
    const missing = [...PROVIDER_ROUTES, ...WORKER_ROUTES].filter((route) => !documented.includes(route));
    expect(missing).toEqual([]);
    expect([...documented].sort()).toEqual([...PROVIDER_ROUTES, ...WORKER_ROUTES].sort());
  });

  it("the list above is the provider's routes (createProvider's router)", () => {
    // Middleware and the 405 fallbacks are "ALL"; each endpoint's slash-less twin is left out.
    const routes = createProvider()
      .routes.filter((route) => route.method !== "ALL")
      .map((route) => `${route.method} ${route.path}`);
    const registered = new Set(routes.filter((route) => !routes.includes(`${route}/`)));
    // Preflights are answered by the CORS middleware, not by routes of their own.
    const expected = PROVIDER_ROUTES.filter((route) => !route.startsWith("OPTIONS "));
    expect([...registered].sort()).toEqual([...expected].sort());
  });

  it("every operation has responses, and every $ref resolves", () => {
    const resolve = (ref: string): unknown =>
      ref
        .replace(/^#\//, "")
        .split("/")
        .reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], document);
    const refs: string[] = [];
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (node && typeof node === "object") {
        for (const [key, value] of Object.entries(node)) {
          if (key === "$ref" && typeof value === "string") refs.push(value);
          else walk(value);
        }
      }
    };
    walk(document);
    expect(refs.filter((ref) => resolve(ref) === undefined)).toEqual([]);
    for (const [path, item] of Object.entries(paths)) {
      for (const method of METHODS) {
        const operation = item[method] as { responses?: object } | undefined;
        if (operation) expect(Object.keys(operation.responses ?? {}).length, `${method} ${path}`).toBeGreaterThan(0);
      }
    }
  });
});
