import type { Context } from "hono";
import { findClientCached } from "../db/clients";
import { bearerError, bearerToken, tokenRequired, usesBearerScheme, type BearerErrorCode } from "../oauth/bearer";
import { checkDpopProof, dpopChallenge, dpopHeader, DpopError, dpopToken, DPOP_NONCE_SECONDS, SeenProofs, usesDpopScheme } from "../oauth/dpop";
import { currentDpopNonce } from "./token";
import { OAuthError } from "../oauth/errors";
import { readFormBody } from "../oauth/form";
import { nowSeconds } from "../core/time";
import { endpointAddresses } from "./discovery";
import { releaseClaims } from "../oidc/claims";
import type { ClaimRequest } from "../tokens/claims-request";
import { subjectFor } from "../tokens/subject";
import { userIdOf } from "../tokens/user-tokens";
import { verifyAccessToken } from "../tokens/verify";
import type { ProviderEnv } from "../types";

type Ctx = Context<ProviderEnv>;

const userinfoError = (status: 400 | 401 | 403, error: BearerErrorCode, description: string, extra?: Record<string, string>) =>
  bearerError("userinfo", status, error, description, extra);

/** RFC 9449 §7.1: a DPoP error, with a DPoP challenge naming the accepted algorithms (§9: and a fresh nonce for use_dpop_nonce). */
const dpopError = (error: "invalid_token" | "invalid_dpop_proof" | "invalid_request" | "use_dpop_nonce", description: string, nonce?: string) =>
  new OAuthError(error, description, error === "invalid_request" ? 400 : 401, {
    "WWW-Authenticate": dpopChallenge("userinfo", { error, error_description: description }),
    ...(nonce ? { "DPoP-Nonce": nonce } : {}),
  });

/** DPoP proof ids this isolate has seen (as requireToken: the `iat` window bounds replays elsewhere). */
const seenProofs = new SeenProofs();

/**
 * RFC 9449 §7: a DPoP-bound token needs the DPoP scheme and a proof of its key for this request
 * (`ath` its hash); an unbound token is refused with the DPoP scheme, a bound one as Bearer.
 */
async function checkBinding(c: Ctx, token: string, dpopScheme: boolean, cnf: unknown): Promise<void> {
  const jkt = (cnf as { jkt?: unknown } | undefined)?.jkt;
  if (!dpopScheme) {
    if (jkt !== undefined) throw dpopError("invalid_token", "the access token is DPoP-bound: present it with the DPoP scheme and a proof");
    return;
  }
  if (typeof jkt !== "string") throw dpopError("invalid_token", "the access token is not DPoP-bound: present it as a Bearer token");
  const settings = c.get("settings");
  const window = settings.DPOP_PROOF_WINDOW_SECONDS;
  try {
    const value = dpopHeader(c.req.raw.headers);
    if (value === undefined) throw dpopError("invalid_dpop_proof", "a DPoP proof is required with a DPoP-bound access token");
    const proof = await checkDpopProof(value, {
      method: c.req.method,
      url: endpointAddresses(c.get("endpointBase")).userinfo_endpoint,
      now: nowSeconds(),
      windowSeconds: window,
      accessToken: token,
      nonce: settings.DPOP_NONCE ? { secret: c.var.secret(), lifetimeSeconds: DPOP_NONCE_SECONDS } : undefined,
    });
    if (proof.jkt !== jkt) throw dpopError("invalid_dpop_proof", "the DPoP proof's key is not the key the access token is bound to");
    if (!seenProofs.firstUse(proof, proof.iat + window, nowSeconds())) throw dpopError("invalid_dpop_proof", "the DPoP proof was used already");
  } catch (err) {
    if (err instanceof DpopError) {
      throw err.code === "use_dpop_nonce" ? dpopError("use_dpop_nonce", err.description, await currentDpopNonce(c)) : dpopError("invalid_dpop_proof", err.description);
    }
    throw err;
  }
}

/** The access token: from the Authorization header (Bearer or DPoP), or (POST only) the form body; never the query (RFC 6750 §2). */
async function presentedToken(c: Ctx): Promise<{ token: string; dpop: boolean }> {
  const header = c.req.header("authorization");
  if (new URL(c.req.url).searchParams.has("access_token")) {
    throw userinfoError(400, "invalid_request", "access tokens are not accepted in the query string");
  }
  let fromBody: string | undefined;
  if (c.req.method === "POST" && (c.req.header("content-type") ?? "").startsWith("application/x-www-form-urlencoded")) {
    fromBody = (await readFormBody(c.req.raw, c.get("settings").MAX_BODY_BYTES)).get("access_token");
  }
  if (usesDpopScheme(header)) {
    if (fromBody !== undefined) throw userinfoError(400, "invalid_request", "send the access token one way only");
    const token = dpopToken(header);
    if (!token) throw dpopError("invalid_request", "the Authorization header is not a valid DPoP token");
    return { token, dpop: true };
  }
  if (usesBearerScheme(header)) {
    if (fromBody !== undefined) throw userinfoError(400, "invalid_request", "send the access token one way only");
    const token = bearerToken(header);
    if (!token) throw userinfoError(400, "invalid_request", "the Authorization header is not a valid Bearer token");
    return { token, dpop: false };
  }
  if (fromBody !== undefined) return { token: fromBody, dpop: false };
  throw tokenRequired("userinfo");
}

/**
 * `GET|POST /o/userinfo/` (OIDC Core §5.3): the claims of the granted scopes, and those the
 * `claims` request parameter asked for, of the token's user; `sub` as that client sees it.
 */
export async function userinfoEndpoint(c: Ctx): Promise<Response> {
  const settings = c.get("settings");
  const { token, dpop } = await presentedToken(c);
  const result = await verifyAccessToken(token, {
    keys: await c.var.keys(),
    issuer: c.get("issuer"),
    // RFC 8707: a token issued for another resource is not for this endpoint, even with openid.
    audience: c.get("audience"),
    kv: c.get("kv"),
    secret: settings.SECRET_KEY,
  });
  if (!result.active) throw userinfoError(401, "invalid_token", `the access token is ${result.reason}`);
  const { claims: claims } = result;
  await checkBinding(c, token, dpop, claims.cnf);
  const scopes = claims.scope.split(" ");
  if (!scopes.includes("openid") || !claims.gid) {
    throw userinfoError(403, "insufficient_scope", "the access token was not granted the openid scope", { scope: "openid" });
  }
  const userId = await userIdOf(claims, settings.SECRET_KEY);
  const [client, account] = await Promise.all([
    findClientCached(c.get("db"), claims.client_id, settings.CLIENT_CACHE_SECONDS),
    userId ? c.get("accounts").findById(c.get("db"), userId) : null,
  ]);
  if (!client || !account) throw userinfoError(401, "invalid_token", "the token's client or user no longer exists");
  c.set("clientOrigins", client.allowedOrigins);

  const requested = Array.isArray(claims.userinfo_claims)
    ? Object.fromEntries((claims.userinfo_claims as unknown[]).filter((n): n is string => typeof n === "string").map((n) => [n, null as ClaimRequest | null]))
    : undefined;
  const body = {
    sub: await subjectFor(client, account.id, settings.SECRET_KEY),
    ...releaseClaims(account.claims ?? {}, scopes, requested, true),
  };
  return c.json(body, 200, { "Cache-Control": "no-store", Pragma: "no-cache" });
}
