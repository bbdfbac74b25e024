import type { Context } from "hono";
import { clientAddress } from "../core/client-address";
import { findGrant } from "../grants/index";
import { authenticateClient } from "../oauth/client-auth";
import { spendOnce } from "../db/spent-ids";
import { nowSeconds } from "../core/time";
import { checkDpopProof, dpopHeader, dpopNonce, DpopError, DPOP_NONCE_SECONDS, type DpopProof } from "../oauth/dpop";
import { invalidRequest, OAuthError, unauthorizedClient, unsupportedGrantType } from "../oauth/errors";
import { readFormBody } from "../oauth/form";
import { clientAssertionContext } from "../tokens/client-secret";
import type { ProviderEnv } from "../types";
import { endpointAddresses } from "./discovery";

type Ctx = Context<ProviderEnv>;

/** The current server nonce, when DPOP_NONCE is on (sent with every answer, so clients keep a fresh one). */
export async function currentDpopNonce(c: Ctx): Promise<string | undefined> {
  return c.get("settings").DPOP_NONCE ? dpopNonce(c.var.secret(), DPOP_NONCE_SECONDS, nowSeconds()) : undefined;
}

/** A proof's failure as the token endpoint's error (RFC 9449 §5: 400; §8: `use_dpop_nonce` with a fresh nonce). */
async function proofError(c: Ctx, err: DpopError): Promise<OAuthError> {
  const nonce = err.code === "use_dpop_nonce" ? await currentDpopNonce(c) : undefined;
  return new OAuthError(err.code, err.description, 400, nonce ? { "DPoP-Nonce": nonce } : {});
}

/**
 * The request's DPoP proof (RFC 9449 §4.3), checked for this endpoint's URL, its `jti` spent at
 * the primary (one D1 insert: tokens are issued rarely, so every replay is caught in any location).
 * Undefined when no proof came; a client registered with `dpop_bound_access_tokens` must send one.
 * The PAR endpoint (§10.1) checks its proof the same way without spending it (`spend: false`): a
 * replayed proof there binds a code to the key of its owner, and only that key can redeem it.
 */
export async function tokenRequestProof(c: Ctx, url: string, required: boolean, spend = true): Promise<DpopProof | undefined> {
  const settings = c.get("settings");
  const now = nowSeconds();
  try {
    const value = dpopHeader(c.req.raw.headers);
    if (value === undefined) {
      if (required) throw new DpopError("invalid_dpop_proof", "this client's access tokens must be DPoP-bound: send a DPoP proof");
      return undefined;
    }
    const proof = await checkDpopProof(value, {
      method: c.req.method,
      url,
      now,
      windowSeconds: settings.DPOP_PROOF_WINDOW_SECONDS,
      nonce: settings.DPOP_NONCE ? { secret: c.var.secret(), lifetimeSeconds: DPOP_NONCE_SECONDS } : undefined,
    });
    if (spend && !(await spendOnce(c.get("db"), "dpop", `${proof.jkt}:${proof.jti}`, proof.iat + settings.DPOP_PROOF_WINDOW_SECONDS))) {
      throw new DpopError("invalid_dpop_proof", "the DPoP proof was used already");
    }
    return proof;
  } catch (err) {
    if (err instanceof DpopError) throw await proofError(c, err);
    throw err;
  }
}

/** `POST /o/token/` (RFC 6749 §3.2): authenticate the client, then hand over to the grant. */
export async function tokenEndpoint(c: Ctx): Promise<Response> {
  const settings = c.get("settings");
  if (c.req.query("client_secret") !== undefined || c.req.query("client_assertion") !== undefined) {
    throw invalidRequest("client credentials must not be sent in the query string");
  }
  const params = await readFormBody(c.req.raw, settings.MAX_BODY_BYTES);
  const grantType = params.require("grant_type");
  const grant = findGrant(grantType);
  if (!grant) throw unsupportedGrantType("this grant_type is not supported");

  const db = c.get("db");
  const endpoints = endpointAddresses(c.get("endpointBase"));
  const assertion = clientAssertionContext(c.var, { token: endpoints.token_endpoint });
  const { client } = await authenticateClient(db, settings, c.req.header("authorization"), params, assertion);
  c.set("clientOrigins", client.allowedOrigins);
  if (!client.grantTypes.includes(grantType)) {
    throw unauthorizedClient(`this client is not allowed the ${grantType} grant`);
  }
  const dpop = await tokenRequestProof(c, endpoints.token_endpoint, client.dpopBoundAccessTokens);
  // Keys missing or broken fail here, before a grant writes anything (a spent code, a rotated token).
  await c.get("keys")();
  // `c.var` is a fresh copy of the variables on every read: one read, extended for the grant.
  const response = await grant(Object.assign(c.var, { client, params, clientAddress: clientAddress(c.req.raw.headers), dpop }));
  const nonce = dpop ? await currentDpopNonce(c) : undefined;
  return c.json(response, 200, { "Cache-Control": "no-store", Pragma: "no-cache", ...(nonce ? { "DPoP-Nonce": nonce } : {}) });
}
