import type { Context } from "hono";
import { SignJWT } from "jose";
import { runAfterResponse } from "../core/after-response";
import { randomToken } from "../core/crypto";
import { errorFields, logError, logWarn } from "../core/log";
import { nowSeconds } from "../core/time";
import { LOGOUT_MAX_ATTEMPTS, pendingBackChannelLogouts, settleBackChannelLogouts, type SessionRelyingParty } from "../db/session-clients";
import { checkOutboundUrl } from "../oauth/client-id-document";
import { signingKeyFor, type KeyRing } from "../tokens/keys";
import { subjectFor } from "../tokens/subject";
import type { ProviderEnv, ServerContext } from "../types";

/**
 * OpenID Connect Back-Channel Logout 1.0: when a browser session ends, each client it signed in to
 * that registered a `backchannel_logout_uri` is sent a logout token, server to server. The
 * session's clients are in `session_clients` (db/session-clients.ts): a row of an ended session is
 * a token still to deliver, so nothing is lost when a delivery fails: it is tried again at once a
 * few times (after the response, `waitUntil`), then by the hourly cron cleanup, up to
 * `LOGOUT_MAX_ATTEMPTS` deliveries in all.
 */

export const BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout";
/** A logout token is for immediate use (§2.4): it expires two minutes after it is signed. */
export const LOGOUT_TOKEN_LIFETIME_SECONDS = 120;
/** One delivery (connect, send, answer) must end within this time. */
export const LOGOUT_DELIVERY_TIMEOUT_MS = 5_000;
/** Waits before the tries made after the response: within waitUntil's 30 s, with room for timeouts. */
export const LOGOUT_RETRY_DELAYS_MS = [0, 1_000, 3_000] as const;
/** Rows one pass delivers at most (the cron's pass; a single session has far fewer). */
const DELIVERIES_PER_PASS = 50;

/** What delivering needs: no request (the cron delivers too); each row has its issuer. */
export type DeliveryContext = Pick<ServerContext, "settings" | "db" | "keys">;

/** The logout token for one client of an ended session (§2.4): `sub` as that client knows it, and `sid`. */
export async function signLogoutToken(ring: KeyRing, party: SessionRelyingParty, secret: string | undefined): Promise<string> {
  const { row, client } = party;
  const key = signingKeyFor(ring, client.idTokenSignedResponseAlg);
  const now = nowSeconds();
  return new SignJWT({ sid: row.sid, events: { [BACKCHANNEL_LOGOUT_EVENT]: {} } })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "logout+jwt" })
    .setIssuer(row.issuer)
    .setSubject(await subjectFor(client, row.userId, secret))
    .setAudience(client.id)
    .setIssuedAt(now)
    .setExpirationTime(now + LOGOUT_TOKEN_LIFETIME_SECONDS)
    .setJti(randomToken(16))
    .sign(key.key);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** POSTs the token (§2.5); true when the client answered 2xx. Redirects are not followed. */
async function postLogoutToken(url: URL, token: string): Promise<boolean> {
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ logout_token: token }),
      redirect: "manual",
      signal: AbortSignal.timeout(LOGOUT_DELIVERY_TIMEOUT_MS),
    });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

/** One delivery: a fresh token per try (an earlier one may have expired while waiting). */
async function deliver(ctx: DeliveryContext, ring: KeyRing, party: SessionRelyingParty, delaysMs: readonly number[]): Promise<boolean> {
  // The rules of a jwks_uri: https, a public host (development allows others), no credentials.
  const url = checkOutboundUrl(party.client.backchannelLogoutUri ?? "", ctx.settings.CLIENT_ID_METADATA_PRIVATE_HOSTS);
  if (typeof url === "string") {
    logWarn("back-channel logout URI not deliverable", { clientId: party.client.id, problem: `the client's backchannel_logout_uri ${url}` });
    return false;
  }
  for (const delay of delaysMs) {
    if (delay > 0) await sleep(delay);
    if (await postLogoutToken(url, await signLogoutToken(ring, party, ctx.settings.SECRET_KEY))) return true;
  }
  logWarn("back-channel logout not delivered", { clientId: party.client.id, attempt: party.row.logoutAttempts + 1 });
  return false;
}

/**
 * Delivers the logout tokens of ended sessions (those of `sessionIds`, or any still pending) and records
 * the outcome: delivered rows go, failed ones count an attempt. Returns how many were delivered.
 */
export async function deliverBackChannelLogouts(
  ctx: DeliveryContext,
  { sessionIds, delaysMs = LOGOUT_RETRY_DELAYS_MS }: { sessionIds?: readonly string[]; delaysMs?: readonly number[] } = {},
): Promise<{ delivered: number; failed: number }> {
  const parties = await pendingBackChannelLogouts(ctx.db, { sessionIds, maxAttempts: LOGOUT_MAX_ATTEMPTS, limit: DELIVERIES_PER_PASS });
  if (parties.length === 0) return { delivered: 0, failed: 0 };
  const ring = await ctx.keys();
  const outcomes = await Promise.all(parties.map((party) => deliver(ctx, ring, party, delaysMs)));
  const delivered = parties.filter((_, i) => outcomes[i]).map((p) => p.row);
  const failed = parties.filter((_, i) => !outcomes[i]).map((p) => p.row);
  await settleBackChannelLogouts(ctx.db, delivered, failed);
  return { delivered: delivered.length, failed: failed.length };
}

/** After the response (`waitUntil`): the logout tokens of the sessions this request ended. */
export function sendLogoutTokensAfterResponse(c: Context<ProviderEnv>, sessionIds: readonly string[]): void {
  if (sessionIds.length === 0) return;
  runAfterResponse(c, deliverBackChannelLogouts(c.var, { sessionIds }).catch((err: unknown) => logError("back-channel logout failed", errorFields(err))));
}
