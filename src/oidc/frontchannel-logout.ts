import type { SessionRelyingParty } from "../db/session-clients";
import { appendQuery } from "../oauth/redirect-uri";

/**
 * OIDC Front-Channel Logout 1.0 §2–3: the address framed for each client of the ended session,
 * with `iss` and `sid` when the client registered `frontchannel_logout_session_required`.
 */
export function frontChannelFrames(parties: readonly SessionRelyingParty[]): string[] {
  return parties.flatMap(({ row, client }) => {
    const uri = client.frontchannelLogoutUri;
    if (!uri) return [];
    return [client.frontchannelLogoutSessionRequired ? appendQuery(uri, { iss: row.issuer, sid: row.sid }) : uri];
  });
}

/** The page's Content-Security-Policy: frames from those clients' origins only, and its own script. */
export function frontChannelPolicy(frames: readonly string[], nonce: string): string {
  const origins = [...new Set(frames.map((uri) => new URL(uri).origin))].join(" ");
  return `default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-${nonce}'; frame-src ${origins}; frame-ancestors 'none'; base-uri 'none'; form-action 'none'`;
}
