import type { Context } from "hono";
import type { ProviderEnv } from "../types";
import { sendPage, type HtmlContent } from "../views/render";
import { ReferencePage } from "../views/reference-page";
import { openapiDocument, type OpenApiDocument } from "./openapi-document";
import { referenceProps } from "./openapi-reference";

interface Described {
  document: OpenApiDocument;
  json: string;
}

/**
 * The document of each server URL, built once per isolate. Bounded: with `ALLOWED_HOSTS=*` any
 * Host header makes a server URL, and those must not grow the isolate's memory without end.
 */
const described = new Map<string, Described>();
const MAX_SERVER_URLS = 32;

function describedAt(endpointBase: string): Described {
  let entry = described.get(endpointBase);
  if (!entry) {
    if (described.size >= MAX_SERVER_URLS) described.clear();
    const document = openapiDocument(endpointBase);
    entry = { document, json: JSON.stringify(document) };
    described.set(endpointBase, entry);
  }
  return entry;
}

/** `GET {basePath}/openapi.json`: the OpenAPI 3.1 description of the provider's endpoints, for the URL it is served under. */
export function openapiEndpoint(c: Context<ProviderEnv>): Response {
  return c.body(describedAt(c.var.endpointBase).json, 200, {
    "Content-Type": "application/json; charset=UTF-8",
    "Cache-Control": "public, max-age=300",
    "Access-Control-Allow-Origin": "*",
  });
}

/** `GET {basePath}/openapi`: the same document as a page, with a link to the JSON. */
export function openapiReferencePage(c: Context<ProviderEnv>): Promise<Response> {
  const base = c.var.endpointBase;
  const props = referenceProps(describedAt(base).document, `${base}/openapi.json`);
  return sendPage(c, ReferencePage(props) as HtmlContent);
}
