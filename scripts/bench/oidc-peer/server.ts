/**
 * node-oidc-provider (npm `oidc-provider`) as the benchmark's peer, run by peer.ts in a child Node
 * process: in memory (its default adapter), the clientCredentials and introspection features on,
 * one confidential client (client_secret_basic) allowed client_credentials with scope "read write".
 *
 * - client_credentials with `resource=<config.resource>` issues an ES256 JWT access token (RFC 9068
 *   shape, resource indicators), like the product's;
 * - without `resource` it issues an opaque token kept in memory: the only kind node-oidc-provider
 *   introspects (it refuses structured tokens at its introspection endpoint).
 *
 * Input: OIDC_PEER_CONFIG (JSON: clientId, clientSecret, resource, keys = private JWKs with kid). Listens on
 * 127.0.0.1, a free port, and prints one line of JSON, {"port": N, "issuer": "..."}, when ready.
 */
import { createServer } from "node:http";
import { randomBytes } from "node:crypto";
import Provider, { errors } from "oidc-provider";

interface PeerConfig {
  clientId: string;
  clientSecret: string;
  /** The resource indicator whose tokens are JWTs. */
  resource: string;
  keys: object[];
}

const config = JSON.parse(process.env.OIDC_PEER_CONFIG ?? "null") as PeerConfig | null;
if (!config?.clientId || !config.clientSecret || !config.resource || !config.keys?.length) {
  console.error("oidc peer: OIDC_PEER_CONFIG must give clientId, clientSecret and keys");
  process.exit(2);
}

const server = createServer();
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("no port");
  const issuer = `http://127.0.0.1:${address.port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: config.clientId,
        client_secret: config.clientSecret,
        grant_types: ["client_credentials"],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: "client_secret_basic",
        scope: "read write",
      },
    ],
    jwks: { keys: config.keys },
    scopes: ["openid", "read", "write"],
    cookies: { keys: [randomBytes(32).toString("base64url")] },
    ttl: { ClientCredentials: 3600 },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => undefined,
        useGrantedResource: () => false,
        getResourceServerInfo: (_ctx: unknown, indicator: string) => {
          if (indicator !== config.resource) throw new errors.InvalidTarget();
          return { scope: "read write", audience: config.resource, accessTokenTTL: 3600, accessTokenFormat: "jwt", jwt: { sign: { alg: "ES256" } } };
        },
      },
    },
  });
  provider.on("server_error", (_ctx, err) => console.error("oidc peer: server_error", err));
  server.on("request", provider.callback());
  process.stdout.write(`${JSON.stringify({ port: address.port, issuer })}\n`);
});
