import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, errors, jwtVerify, type JWTPayload } from "jose";
import type { Settings } from "../core/settings";
import { nowSeconds } from "../core/time";
import type { Database } from "../db/index";
import type { Client } from "../db/schema";
import { spendOnce } from "../db/spent-ids";
import { clientKeySet, mayRefetchKeySet } from "./client-jwks";
import { invalidClient, OAuthError } from "./errors";

/**
 * JWT client authentication (RFC 7523 §2.2 and §3, OIDC Core §9): `private_key_jwt` (signed with
 * the client's private key, verified with its registered `jwks` or `jwks_uri`) and
 * `client_secret_jwt` (an HMAC with the client's secret). Checked in RFC 7523 §3's order: issuer
 * and subject are the client, the audience is this server, the assertion has expired neither
 * nor lives long, and its `jti` is used once.
 */

export const CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/** Algorithms of private_key_jwt assertions (asymmetric only: an HMAC over a public key is the classic confusion). */
export const ASSERTION_SIGNING_ALGORITHMS = ["RS256", "PS256", "ES256", "EdDSA", "Ed25519"] as const;
/** Algorithms of client_secret_jwt assertions. */
export const ASSERTION_HMAC_ALGORITHMS = ["HS256"] as const;
/** The longest an assertion may be valid for from now (exp − now), plus the clock skew. */
export const ASSERTION_MAX_LIFETIME_SECONDS = 300;
/** Clock difference tolerated on exp, nbf and iat. */
export const ASSERTION_CLOCK_SKEW_SECONDS = 30;
const MAX_JTI_LENGTH = 256;
const MAX_ASSERTION_LENGTH = 8192;

/** What the endpoint knows to check an assertion with. */
export interface AssertionContext {
  /**
   * The audiences this endpoint accepts: the issuer identifier, the token endpoint URL and this
   * endpoint's URL. Every `aud` value must be one of them (a foreign audience beside ours is refused).
   */
  audiences: string[];
  /** A client_secret_jwt client's secret (its HMAC key), unsealed; undefined when it has none sealed. */
  clientSecret: (client: Client) => Promise<string | undefined>;
}

const failed = (description: string) => invalidClient(description);

/**
 * The client an assertion names (`sub`, which must equal `iss`), read before it is verified: it
 * only picks whose keys verify it. Anything that is not a JWT is an invalid_client.
 */
export function assertionClientId(assertion: string): string {
  if (assertion.length > MAX_ASSERTION_LENGTH) throw failed("the client assertion is too large");
  let claims: JWTPayload;
  try {
    claims = decodeJwt(assertion);
  } catch {
    throw failed("the client assertion is not a JWT");
  }
  if (typeof claims.sub !== "string" || claims.sub === "") throw failed("the client assertion has no sub");
  return claims.sub;
}

/** The key (or key set) that verifies a client's assertions, and the algorithms it may use. */
async function verificationKey(settings: Settings, client: Client, ctx: AssertionContext) {
  // OIDC Registration §2: a registered token_endpoint_auth_signing_alg is the only one accepted.
  const registered = client.metadata?.token_endpoint_auth_signing_alg;
  const only = (algorithms: readonly string[]) => (typeof registered === "string" ? algorithms.filter((alg) => alg === registered) : [...algorithms]);
  if (client.tokenEndpointAuthMethod === "client_secret_jwt") {
    const secret = await ctx.clientSecret(client);
    if (!secret) throw failed("this client has no secret to verify its assertion with; rotate its secret");
    return { key: new TextEncoder().encode(secret), algorithms: only(ASSERTION_HMAC_ALGORITHMS) };
  }
  if (client.jwks) return { key: createLocalJWKSet(client.jwks as Parameters<typeof createLocalJWKSet>[0]), algorithms: only(ASSERTION_SIGNING_ALGORITHMS) };
  if (client.jwksUri) {
    const set = await clientKeySet(client.jwksUri, settings.CLIENT_ID_METADATA_PRIVATE_HOSTS);
    return { key: createLocalJWKSet(set), algorithms: only(ASSERTION_SIGNING_ALGORITHMS) };
  }
  throw failed("this client has no registered keys");
}

async function verifySignature(settings: Settings, client: Client, assertion: string, ctx: AssertionContext): Promise<JWTPayload> {
  const { key, algorithms } = await verificationKey(settings, client, ctx);
  const alg = (() => {
    try {
      return decodeProtectedHeader(assertion).alg;
    } catch {
      throw failed("the client assertion is not a JWT");
    }
  })();
  if (typeof alg !== "string" || !(algorithms as string[]).includes(alg)) {
    throw failed(`the client assertion must be signed with ${algorithms.join(", ")}`);
  }
  const options = {
    algorithms,
    issuer: client.id,
    subject: client.id,
    requiredClaims: ["exp", "jti"],
    clockTolerance: ASSERTION_CLOCK_SKEW_SECONDS,
  };
  try {
    // jose's overloads differ for a key and a key set; both verify the same way.
    return typeof key === "function" ? (await jwtVerify(assertion, key, options)).payload : (await jwtVerify(assertion, key, options)).payload;
  } catch (err) {
    if (err instanceof errors.JWKSNoMatchingKey && client.jwksUri && mayRefetchKeySet(client.id, client.jwksUri)) {
      // The client may have rotated its keys: fetch its set again, once, then decide.
      const set = await clientKeySet(client.jwksUri, settings.CLIENT_ID_METADATA_PRIVATE_HOSTS);
      try {
        return (await jwtVerify(assertion, createLocalJWKSet(set), options)).payload;
      } catch (again) {
        throw refusal(again);
      }
    }
    throw refusal(err);
  }
}

/** jose's failure as an invalid_client that says which check failed, never echoing the assertion. */
function refusal(err: unknown): OAuthError {
  if (err instanceof OAuthError) return err;
  if (err instanceof errors.JWTExpired) return failed("the client assertion has expired");
  if (err instanceof errors.JWKSNoMatchingKey) return failed("no registered key of this client matches the client assertion");
  if (err instanceof errors.JWSSignatureVerificationFailed) return failed("the client assertion's signature is not valid");
  if (err instanceof errors.JWTClaimValidationFailed) return failed(`the client assertion's ${err.claim} claim is not valid`);
  return failed("the client assertion is not valid");
}

/** Every `aud` value must be one of ours (RFC 7523 §3 item 3), so an assertion made for another server is never accepted here. */
function checkAudience(aud: JWTPayload["aud"], accepted: string[]): void {
  const values = typeof aud === "string" ? [aud] : Array.isArray(aud) ? aud : [];
  if (values.length === 0 || !values.every((value) => accepted.includes(value))) {
    throw failed("the client assertion's aud must be this server's issuer identifier or token endpoint URL");
  }
}

/**
 * Verifies `assertion` as `client`'s (whose registered method is private_key_jwt or
 * client_secret_jwt), then spends its `jti` (single use until its exp, one insert at the primary).
 */
export async function verifyClientAssertion(
  db: Database,
  settings: Settings,
  client: Client,
  assertion: string,
  ctx: AssertionContext,
): Promise<void> {
  const claims = await verifySignature(settings, client, assertion, ctx);
  checkAudience(claims.aud, ctx.audiences);
  const now = nowSeconds();
  const exp = claims.exp!;
  if (exp > now + ASSERTION_MAX_LIFETIME_SECONDS + ASSERTION_CLOCK_SKEW_SECONDS) {
    throw failed(`the client assertion must expire within ${ASSERTION_MAX_LIFETIME_SECONDS} seconds`);
  }
  if (claims.iat !== undefined && claims.iat > now + ASSERTION_CLOCK_SKEW_SECONDS) throw failed("the client assertion's iat is in the future");
  const jti = claims.jti;
  if (typeof jti !== "string" || jti === "" || jti.length > MAX_JTI_LENGTH) throw failed("the client assertion needs a jti");
  // Kept until the assertion could no longer be accepted anyway (exp plus the skew).
  if (!(await spendOnce(db, "client_assertion", `${client.id}:${jti}`, exp + ASSERTION_CLOCK_SKEW_SECONDS))) {
    throw failed("the client assertion was used before: its jti must be new");
  }
}
