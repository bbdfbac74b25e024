import type { Context } from "hono";
import document from "../../openapi.json";
import type { ProviderEnv } from "../types";

// Serialized once per isolate; the document is bundled with the Worker (esbuild imports JSON).
const body = JSON.stringify(document);

/** `GET /o/openapi.json`: the OpenAPI 3.1 description of the endpoints (openapi.json at the repository root). */
export function openapiEndpoint(c: Context<ProviderEnv>): Response {
  return c.body(body, 200, {
    "Content-Type": "application/json; charset=UTF-8",
    "Cache-Control": "public, max-age=300",
    "Access-Control-Allow-Origin": "*",
  });
}
