/**
 * examples/mcp-server with the official MCP TypeScript SDK as its client, given only the MCP
 * server's URL: the SDK follows the 401's resource_metadata (RFC 9728), reads the authorization
 * server's metadata (RFC 8414), registers itself (RFC 7591) or names its client ID metadata
 * document, runs authorization code with PKCE and `resource` (RFC 8707), and calls the tools; after
 * a revocation it refreshes, or sends the user to authorize again.
 */
import { createHash, randomBytes } from "node:crypto";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerClient } from "../../src/db/registration";
import { findClient } from "../../src/db/clients";
import { startMcpExample, type McpExample } from "./support/mcp-example";
import { connectWithAuthorization, TestOAuthClient, toolJson, type SeenRequest } from "./support/mcp-oauth-client";
import { authorizeInteractively, UserAgent } from "./support/user-agent";

/** The client's loopback redirect URI: nothing listens there, the code is read off the redirect. */
const REDIRECT_URI = "http://127.0.0.1:7777/callback";
/** A client ID metadata document on a public https host; the Worker's fetch of it comes to `serveDocument`. */
const DOCUMENT_URL = "https://mcp-client.example/oauth/client-metadata.json";

interface ServerMetadata {
  issuer: string;
  registration_endpoint: string;
  token_endpoint: string;
  revocation_endpoint: string;
  client_id_metadata_document_supported?: boolean;
}

let example: McpExample;
let metadata: ServerMetadata;
/** The Worker's fetches of the metadata document. */
const documentFetches: Request[] = [];

function clientDocument() {
  return {
    client_id: DOCUMENT_URL,
    client_name: "MCP client with a metadata document",
    client_uri: "https://mcp-client.example",
    redirect_uris: [REDIRECT_URI],
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
    token_endpoint_auth_method: "none",
  };
}

function serveDocument(request: Request): Response {
  if (request.url !== DOCUMENT_URL) return new Response("not found", { status: 404 });
  documentFetches.push(request);
  return Response.json(clientDocument(), { headers: { "cache-control": "max-age=300" } });
}

beforeAll(async () => {
  example = await startMcpExample({ outbound: serveDocument });
  const res = await fetch(`${example.origin}/.well-known/oauth-authorization-server/o`);
  expect(res.status).toBe(200);
  metadata = (await res.json()) as ServerMetadata;
}, 120_000);

afterAll(async () => {
  await example?.dispose();
});

const describeRequest = (r: SeenRequest) => `${r.method} ${r.url.href} ${r.status}`;
const formOf = (r: SeenRequest) => new URLSearchParams(r.body);
const tokenRequests = (seen: SeenRequest[]) => seen.filter((r) => r.url.href === metadata.token_endpoint);

function newClient(options: { clientMetadataUrl?: string } = {}) {
  return new TestOAuthClient({ redirectUrl: REDIRECT_URI, user: example.user, ...options });
}

/** Revokes a token at the revocation endpoint as the (public) client itself. */
/**
 * The first tools/call the SDK sent among `seen`: not simply the first request, since one the SDK
 * sent while connecting (notifications/initialized) may be answered after the test cleared `seen`.
 */
function firstToolCall(seen: SeenRequest[]): SeenRequest {
  const call = seen.find((r) => r.url.href === example.mcpUrl && r.method === "POST" && r.body.includes('"tools/call"'));
  if (!call) throw new Error(`no tools/call among ${seen.map((r) => `${r.method} ${r.url.pathname}`).join(", ")}`);
  return call;
}

async function revoke(token: string, clientId: string): Promise<void> {
  const res = await fetch(metadata.revocation_endpoint, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token, client_id: clientId }),
  });
  expect(res.status).toBe(200);
}

describe("the MCP server's own answers", () => {
  it("a request without a token gets 401 naming its protected resource metadata", async () => {
    const res = await fetch(example.mcpUrl, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toContain(`resource_metadata="${example.origin}/.well-known/oauth-protected-resource/mcp"`);
  });

  it("its protected resource metadata names the MCP URL, this provider and the scope", async () => {
    const res = await fetch(`${example.origin}/.well-known/oauth-protected-resource/mcp`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ resource: example.mcpUrl, authorization_servers: [example.issuer], scopes_supported: ["mcp"] });
    expect(metadata.issuer).toBe(example.issuer);
    expect(metadata.client_id_metadata_document_supported).toBe(true);
  });
});

describe("an MCP client that registers itself", () => {
  it("discovers, registers once, authorizes with PKCE for the MCP URL, and calls the tools", async () => {
    const seen: SeenRequest[] = [];
    const provider = newClient();
    const { client } = await connectWithAuthorization(example.mcpUrl, provider, seen);

    // The SDK started from the MCP URL alone: 401, then the metadata it named, then the server's.
    expect(seen.slice(0, 4).map(describeRequest)).toEqual([
      `POST ${example.mcpUrl} 401`,
      `GET ${example.origin}/.well-known/oauth-protected-resource/mcp 200`,
      `GET ${example.origin}/.well-known/oauth-authorization-server/o 200`,
      `POST ${metadata.registration_endpoint} 201`,
    ]);
    expect(seen.filter((r) => r.url.href === metadata.registration_endpoint)).toHaveLength(1);
    const registered = JSON.parse(seen[3]!.body) as { redirect_uris: string[]; token_endpoint_auth_method: string; scope?: string };
    expect(registered).toMatchObject({ redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: "none" });
    expect(provider.savedClients).toHaveLength(1);
    const clientId = provider.savedClients[0]!.client_id;
    const stored = await findClient(example.db, clientId);
    expect(stored).toMatchObject({ source: "registration", clientType: "public", redirectUris: [REDIRECT_URI] });

    // One trip to the authorization endpoint: PKCE (S256) and the MCP URL as the resource.
    expect(provider.authorizations).toHaveLength(1);
    const authorization = provider.authorizations[0]!.searchParams;
    expect(authorization.get("client_id")).toBe(clientId);
    expect(authorization.get("code_challenge_method")).toBe("S256");
    expect(authorization.get("resource")).toBe(example.mcpUrl);
    expect(authorization.get("scope")).toBe("mcp");

    const [exchange] = tokenRequests(seen);
    expect(exchange!.status).toBe(200);
    expect(formOf(exchange!).get("grant_type")).toBe("authorization_code");
    expect(formOf(exchange!).get("resource")).toBe(example.mcpUrl);
    expect(formOf(exchange!).get("code_verifier")).toMatch(/^[\w.~-]{43,128}$/);

    const accessToken = decodeJwt(provider.tokens()!.access_token);
    expect(accessToken).toMatchObject({ aud: example.mcpUrl, iss: example.issuer, sub: example.user.id, client_id: clientId, scope: "mcp" });

    expect(toolJson(await client.callTool({ name: "whoami", arguments: {} }))).toEqual({
      sub: example.user.id,
      client_id: clientId,
      scope: "mcp",
      aud: example.mcpUrl,
    });
    expect(toolJson(await client.callTool({ name: "add", arguments: { a: 2, b: 40 } }))).toEqual({ sum: 42 });
    // Every MCP request after the authorization carried the token and was accepted.
    const mcpPosts = seen.filter((r) => r.url.href === example.mcpUrl && r.method === "POST");
    expect(mcpPosts.slice(1).every((r) => r.status < 300)).toBe(true);
    await client.close();
  });

  it("when its access token is revoked, refreshes it for the same resource without asking the user", async () => {
    const seen: SeenRequest[] = [];
    const provider = newClient();
    const { client } = await connectWithAuthorization(example.mcpUrl, provider, seen);
    const clientId = provider.savedClients[0]!.client_id;
    const before = provider.tokens()!;
    await revoke(before.access_token, clientId);
    seen.length = 0;

    expect(toolJson(await client.callTool({ name: "add", arguments: { a: 1, b: 2 } }))).toEqual({ sum: 3 });

    expect(firstToolCall(seen).status).toBe(401);
    expect(firstToolCall(seen).wwwAuthenticate).toContain('error="invalid_token"');
    const refresh = tokenRequests(seen);
    expect(refresh).toHaveLength(1);
    expect(refresh[0]!.status).toBe(200);
    expect(formOf(refresh[0]!).get("grant_type")).toBe("refresh_token");
    expect(formOf(refresh[0]!).get("resource")).toBe(example.mcpUrl);
    expect(provider.authorizations).toHaveLength(1);
    const after = provider.tokens()!;
    expect(after.access_token).not.toBe(before.access_token);
    expect(decodeJwt(after.access_token).aud).toBe(example.mcpUrl);
    await client.close();
  });

  it("when its access and refresh tokens are revoked, sends the user to authorize again, then calls the tool", async () => {
    const seen: SeenRequest[] = [];
    const provider = newClient();
    const { client, transport } = await connectWithAuthorization(example.mcpUrl, provider, seen);
    const clientId = provider.savedClients[0]!.client_id;
    const before = provider.tokens()!;
    expect(before.refresh_token).toBeTruthy();
    await revoke(before.refresh_token!, clientId);
    await revoke(before.access_token, clientId);
    seen.length = 0;

    // The call is refused, the refresh fails, and the SDK sends the user to authorize again.
    await expect(client.callTool({ name: "whoami", arguments: {} })).rejects.toBeInstanceOf(UnauthorizedError);
    expect(firstToolCall(seen).status).toBe(401);
    const refresh = tokenRequests(seen);
    expect(refresh).toHaveLength(1);
    expect(formOf(refresh[0]!).get("grant_type")).toBe("refresh_token");
    expect(refresh[0]!.status).toBe(400);
    expect(provider.invalidations).toEqual(["tokens"]);
    expect(provider.authorizations).toHaveLength(2);
    expect(provider.authorizations[1]!.searchParams.get("resource")).toBe(example.mcpUrl);

    await transport.finishAuth(provider.takeCode());
    expect(toolJson(await client.callTool({ name: "whoami", arguments: {} }))).toMatchObject({ sub: example.user.id, client_id: clientId });
    expect(provider.tokens()!.access_token).not.toBe(before.access_token);
    // Registered once: the client information survived the new authorization.
    expect(seen.filter((r) => r.url.href === metadata.registration_endpoint)).toHaveLength(0);
    expect(provider.savedClients).toHaveLength(1);
    await client.close();
  });
});

describe("an MCP client with a client ID metadata document", () => {
  it("uses the document's URL as its client_id, registers nothing, and calls the tools", async () => {
    const seen: SeenRequest[] = [];
    const provider = newClient({ clientMetadataUrl: DOCUMENT_URL });
    const fetchesBefore = documentFetches.length;
    const { client } = await connectWithAuthorization(example.mcpUrl, provider, seen);

    expect(seen.filter((r) => r.url.href === metadata.registration_endpoint)).toHaveLength(0);
    expect(provider.savedClients.map((c) => c.client_id)).toEqual([DOCUMENT_URL]);
    expect(provider.authorizations[0]!.searchParams.get("client_id")).toBe(DOCUMENT_URL);
    expect(provider.authorizations[0]!.searchParams.get("resource")).toBe(example.mcpUrl);
    // The provider fetched the document (a plain GET of exactly that URL).
    expect(documentFetches.length).toBeGreaterThan(fetchesBefore);
    expect(documentFetches.at(-1)!.method).toBe("GET");
    const [exchange] = tokenRequests(seen);
    expect(formOf(exchange!).get("client_id")).toBe(DOCUMENT_URL);

    expect(decodeJwt(provider.tokens()!.access_token)).toMatchObject({ aud: example.mcpUrl, client_id: DOCUMENT_URL });
    expect(toolJson(await client.callTool({ name: "whoami", arguments: {} }))).toEqual({
      sub: example.user.id,
      client_id: DOCUMENT_URL,
      scope: "mcp",
      aud: example.mcpUrl,
    });
    await client.close();
  });
});

/** Authorization code with PKCE by hand, for tokens the SDK would never ask for. */
async function tokensByHand(clientId: string, params: { scope: string; resource?: string }): Promise<{ access_token: string; scope: string }> {
  const verifier = randomBytes(32).toString("base64url");
  const url = new URL(`${example.issuer}/authorize/`);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: clientId,
    redirect_uri: REDIRECT_URI,
    scope: params.scope,
    state: "by-hand",
    code_challenge: createHash("sha256").update(verifier).digest("base64url"),
    code_challenge_method: "S256",
    ...(params.resource ? { resource: params.resource } : {}),
  }).toString();
  const { callback } = await authorizeInteractively(new UserAgent(), url, example.user);
  const code = callback.searchParams.get("code");
  expect(code, callback.href).toBeTruthy();
  const res = await fetch(metadata.token_endpoint, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "authorization_code", code: code!, redirect_uri: REDIRECT_URI, client_id: clientId, code_verifier: verifier }),
  });
  const tokens = (await res.json()) as { access_token: string; scope: string };
  expect(res.status, JSON.stringify(tokens)).toBe(200);
  return tokens;
}

function listTools(accessToken: string): Promise<Response> {
  return fetch(example.mcpUrl, {
    method: "POST",
    headers: { authorization: `Bearer ${accessToken}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
  });
}

describe("the MCP server refuses tokens of this provider that are not for it", () => {
  let clientId: string;
  beforeAll(async () => {
    const { client } = await registerClient(example.db, {
      name: "Another app",
      clientType: "public",
      grantTypes: ["authorization_code"],
      redirectUris: [REDIRECT_URI],
      scope: "openid mcp",
      tokenEndpointAuthMethod: "none",
    });
    clientId = client.id;
  });

  it("a token for the provider's default audience (another API of the same origin): 401 invalid_token", async () => {
    const tokens = await tokensByHand(clientId, { scope: "mcp" });
    expect(decodeJwt(tokens.access_token).aud).toBe(example.origin);
    const res = await listTools(tokens.access_token);
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toContain('error="invalid_token"');
  });

  it("a token for the MCP URL without the mcp scope: 403 insufficient_scope", async () => {
    const tokens = await tokensByHand(clientId, { scope: "openid", resource: example.mcpUrl });
    expect(decodeJwt(tokens.access_token)).toMatchObject({ aud: example.mcpUrl, scope: "openid" });
    const res = await listTools(tokens.access_token);
    expect(res.status).toBe(403);
    expect(res.headers.get("www-authenticate")).toMatch(/error="insufficient_scope".*scope="mcp"/);
  });

  it("the same token with the mcp scope is accepted (the refusals above are about audience and scope)", async () => {
    const tokens = await tokensByHand(clientId, { scope: "mcp", resource: example.mcpUrl });
    const res = await listTools(tokens.access_token);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { result: { tools: { name: string }[] } };
    expect(body.result.tools.map((t) => t.name).sort()).toEqual(["add", "whoami"]);
  });
});
