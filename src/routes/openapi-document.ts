import { COMPONENTS, metadataExample } from "./openapi-components";
import { ENDPOINTS, TAGS, type Method, type Operation } from "./openapi-endpoints";

export interface Server {
  url: string;
  description?: string;
}

/** A path item: the operations of one path, and its own server when it lives outside the mount path. */
export type PathItem = Partial<Record<Method, Operation>> & { servers?: Server[] };

export interface OpenApiDocument {
  openapi: "3.1.0";
  info: { title: string; version: string; summary: string; description: string };
  servers: Server[];
  tags: typeof TAGS;
  paths: Record<string, PathItem>;
  components: typeof COMPONENTS;
}

const DESCRIPTION = `The endpoints of this authorization server. Paths are relative to the server URL: the issuer's origin plus the provider's mount path. The RFC 8414 metadata addresses live at the origin and carry their own \`servers\`.

Every endpoint whose path ends with \`/\` also answers without the trailing slash. Request bodies are \`application/x-www-form-urlencoded\` (any other type is \`invalid_request\`), at most \`MAX_BODY_BYTES\` (65536) bytes; a parameter sent twice is \`invalid_request\`, and an empty value counts as absent.

JSON errors are the RFC 6749 §5.2 error object. Errors at the authorization endpoint go to the client's redirect URI once the client and redirect URI are trusted (with \`state\` and \`iss\`), and to an HTML error page before.

Built from the provider's endpoint table (src/routes/openapi-endpoints.ts) and checked against its routes by test/worker/openapi.test.ts. See README.md, docs/oidc.md and docs/keys.md.`;

/** The path items: under the mount path, and the RFC 8414 addresses at the origin (none when mounted at the root, where they coincide). */
function pathsFor(origin: string, basePath: string): Record<string, PathItem> {
  const paths: Record<string, PathItem> = {};
  for (const endpoint of ENDPOINTS) {
    if (!endpoint.atOrigin) paths[endpoint.path] = endpoint.operations;
    else if (basePath !== "") paths[`${endpoint.path}${basePath}`] = { servers: [{ url: origin }], ...endpoint.operations };
  }
  return paths;
}

/**
 * The OpenAPI 3.1 document of the provider served at `endpointBase` (the issuer's origin plus
 * the mount path, as `c.var.endpointBase`).
 */
export function openapiDocument(endpointBase: string): OpenApiDocument {
  const { origin, pathname } = new URL(endpointBase);
  const basePath = pathname.replace(/\/+$/, "");
  const schemas = { ...COMPONENTS.schemas, ServerMetadata: { ...COMPONENTS.schemas.ServerMetadata, example: metadataExample(endpointBase) } };
  return {
    openapi: "3.1.0",
    info: {
      title: "Edge OAuth Toolkit",
      version: "0.1.0",
      summary: "OAuth 2.1 and OpenID Connect authorization server for Cloudflare Workers.",
      description: DESCRIPTION,
    },
    servers: [{ url: endpointBase, description: "The provider's endpoints" }],
    tags: TAGS,
    paths: pathsFor(origin, basePath),
    components: { ...COMPONENTS, schemas },
  };
}

/** The document's operations in order, each with the absolute URL it answers at. */
export function operationsOf(document: OpenApiDocument): { method: Method; path: string; url: string; operation: Operation }[] {
  const METHODS: Method[] = ["get", "post", "put", "delete", "options"];
  return Object.entries(document.paths).flatMap(([path, item]) => {
    const server = item.servers?.[0]?.url ?? document.servers[0]!.url;
    return METHODS.flatMap((method) => {
      const operation = item[method];
      return operation ? [{ method, path, url: `${server}${path}`, operation }] : [];
    });
  });
}
