import type { Client } from "../db/schema";
import type { SecretSealer } from "../db/registration";
import type { AssertionContext } from "../oauth/client-assertion";
import { seal, unseal } from "./sealed";

/**
 * `client_secret_jwt` (OIDC Core §9): the client signs its assertion with HMAC-SHA-256 keyed by its
 * secret, so the server needs the secret itself, not only its hash. Only such clients have it kept,
 * sealed under SECRET_KEY for this one purpose; every other client's secret is only hashed.
 */
const PURPOSE = "client_secret_jwt";

/** Seals new secrets of client_secret_jwt clients (registerClient's and rotateClientSecret's `sealSecret`). */
export const clientSecretSealer =
  (secretKey: string): SecretSealer =>
  (secret) =>
    seal(secretKey, PURPOSE, secret);

/** What a rotation of `client`'s secret seals the new one with: client_secret_jwt clients only (SECRET_KEY read only then). */
export function rotationSealer(client: Pick<Client, "tokenEndpointAuthMethod">, secretKey: () => string): SecretSealer | undefined {
  return client.tokenEndpointAuthMethod === "client_secret_jwt" ? clientSecretSealer(secretKey()) : undefined;
}

/** The client's secret, or undefined when none is sealed (or it was sealed under another SECRET_KEY). */
export async function unsealClientSecret(secretKey: string, client: Client): Promise<string | undefined> {
  if (!client.secretSealed) return undefined;
  return unseal<string>(secretKey, PURPOSE, client.secretSealed);
}

/**
 * What an endpoint checks client assertions with: the audiences it accepts (the issuer identifier,
 * the token endpoint's URL and its own; RFC 7523 §3, RFC 9126 §2) and the sealed secrets.
 */
export function clientAssertionContext(
  ctx: { issuer: string; secret: () => string },
  endpoints: { token: string; here?: string },
): AssertionContext {
  const audiences = [ctx.issuer, endpoints.token, ...(endpoints.here ? [endpoints.here] : [])];
  return { audiences: [...new Set(audiences)], clientSecret: (client) => unsealClientSecret(ctx.secret(), client) };
}
