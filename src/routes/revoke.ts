import type { Context } from "hono";
import { hashSecret } from "../core/crypto";
import { findRefreshToken } from "../db/refresh-tokens";
import type { Client } from "../db/schema";
import { authenticateClient } from "../oauth/client-auth";
import { invalidRequest, unsupportedTokenType } from "../oauth/errors";
import { readFormBody } from "../oauth/form";
import { revokeAccessToken, revokeGrant } from "../tokens/revocation";
import { looksLikeJwt, verifyAccessToken } from "../tokens/verify";
import { clientAssertionContext } from "../tokens/client-secret";
import type { ProviderEnv } from "../types";
import { endpointAddresses } from "./discovery";

type Ctx = Context<ProviderEnv>;

const notYours = () => invalidRequest("the token was not issued to this client");

/** An access token: a KV note by its id; with REVOKE_REFRESH_TOKEN_WITH_ACCESS_TOKEN, its whole grant too. */
async function revokeJwt(c: Ctx, client: Client, token: string): Promise<boolean> {
  const settings = c.get("settings");
  const result = await verifyAccessToken(token, { keys: await c.var.keys(), issuer: c.get("issuer") });
  if (!result.active) return false; // unknown, expired or foreign: nothing to revoke (RFC 7009 §2.2)
  const { claims } = result;
  if (claims.client_id !== client.id) throw notYours();
  const kv = c.get("kv");
  await revokeAccessToken(kv, claims.jti, claims.exp);
  if (settings.REVOKE_REFRESH_TOKEN_WITH_ACCESS_TOKEN && claims.gid) {
    await revokeGrant({ db: c.get("db"), kv }, claims.gid, settings.ACCESS_TOKEN_EXPIRE_SECONDS);
  }
  return true;
}

/** A refresh token: its whole family in D1, and the access tokens of that grant in KV. */
async function revokeRefresh(c: Ctx, client: Client, token: string): Promise<boolean> {
  const db = c.get("db");
  const row = await findRefreshToken(db, await hashSecret(token));
  if (!row || row.revokedAt !== null) return false;
  if (row.clientId !== client.id) throw notYours();
  await revokeGrant({ db, kv: c.get("kv") }, row.grantId, c.get("settings").ACCESS_TOKEN_EXPIRE_SECONDS);
  return true;
}

/**
 * `POST /o/revoke_token/` (RFC 7009). Confidential clients authenticate; public clients send
 * `client_id`. A client revokes only its own tokens; an unknown or already revoked token is a
 * success. The hint is only a hint: the token's shape decides where to look.
 */
export async function revokeEndpoint(c: Ctx): Promise<Response> {
  const settings = c.get("settings");
  const params = await readFormBody(c.req.raw, settings.MAX_BODY_BYTES);
  const endpoints = endpointAddresses(c.get("endpointBase"));
  const assertion = clientAssertionContext(c.var, { token: endpoints.token_endpoint, here: endpoints.revocation_endpoint });
  const { client } = await authenticateClient(c.get("db"), settings, c.req.header("authorization"), params, assertion);
  c.set("clientOrigins", client.allowedOrigins);
  const token = params.require("token");
  const hint = params.get("token_type_hint");
  if (hint !== undefined && hint !== "access_token" && hint !== "refresh_token") {
    throw unsupportedTokenType("token_type_hint must be access_token or refresh_token");
  }
  const revoked = looksLikeJwt(token) ? await revokeJwt(c, client, token) : await revokeRefresh(c, client, token);
  if (revoked) {
    c.get("emit")({ type: "token.revoked", clientId: client.id, tokenType: looksLikeJwt(token) ? "access_token" : "refresh_token" });
  }
  return c.body(null, 200, { "Cache-Control": "no-store", Pragma: "no-cache" });
}
