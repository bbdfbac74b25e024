import { Hono, type Context } from "hono";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import {
  createProvider,
  protectedResourceMetadata,
  requireToken,
  scheduledCleanup,
  type RequireTokenVariables,
} from "edge-oauth-toolkit";
import { mcpServerFor } from "./tools";

/** What wrangler.toml and the secrets put in `env` (`npx wrangler types` can generate this). */
export interface Env {
  DB: D1Database;
  KV: KVNamespace;
  SIGNING_KEYS: string;
  SECRET_KEY: string;
}

type AppEnv = { Bindings: Env; Variables: RequireTokenVariables };

/**
 * The MCP endpoint's URL: the resource (RFC 8707) its tokens are for, their `aud`. It lies under
 * the provider's origin, so the provider knows it as a resource without RESOURCES.
 */
const mcpResource = (c: Context) => `${new URL(c.req.url).origin}/mcp`;
const MCP_SCOPE = "mcp";

const app = new Hono<AppEnv>();

// The authorization server at /o. wrangler.toml switches on dynamic registration and client ID
// metadata documents, so MCP clients register themselves.
app.route("/", createProvider());

// RFC 9728: where a client that knows only /mcp learns who issues its tokens, and for which scope.
app.on(
  ["GET", "OPTIONS"],
  "/.well-known/oauth-protected-resource/mcp",
  protectedResourceMetadata({ resource: mcpResource, scopesSupported: [MCP_SCOPE], resourceName: "Example MCP server" }),
);

// Tokens whose aud is this URL, with the mcp scope; a refusal's challenge names the metadata above.
app.all("/mcp", requireToken({ resource: mcpResource, scopes: [MCP_SCOPE] }), async (c) => {
  const server = mcpServerFor(c.get("accessToken"));
  // Stateless Streamable HTTP: no session id, and JSON answers rather than an event stream.
  const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
  await server.connect(transport);
  return transport.handleRequest(c.req.raw);
});

export default {
  fetch: app.fetch,
  // The Cron Trigger of wrangler.toml: removes expired rows (DOT's cleartokens).
  scheduled: scheduledCleanup<Env>(),
} satisfies ExportedHandler<Env>;
