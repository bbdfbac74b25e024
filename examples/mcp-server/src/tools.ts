import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { RequireTokenVariables } from "edge-oauth-toolkit";
import { z } from "zod";

type AccessToken = RequireTokenVariables["accessToken"];

const text = (value: unknown) => ({ content: [{ type: "text" as const, text: JSON.stringify(value) }] });

/**
 * The MCP server for one request, for the user and client the access token names. A Worker keeps
 * no session between requests (stateless Streamable HTTP), so each request gets its own server:
 * building it costs microseconds.
 */
export function mcpServerFor(token: AccessToken): McpServer {
  const server = new McpServer({ name: "edge-oauth-toolkit-example", version: "1.0.0" });

  server.registerTool(
    "whoami",
    { description: "Who is calling: the access token's user, client, scopes and audience." },
    () => text({ sub: token.sub, client_id: token.client_id, scope: token.scope, aud: token.aud }),
  );

  server.registerTool(
    "add",
    { description: "Adds two numbers.", inputSchema: { a: z.number(), b: z.number() } },
    ({ a, b }) => text({ sum: a + b }),
  );

  return server;
}
