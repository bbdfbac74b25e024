import { hex, randomToken, sha256 } from "../core/crypto";

/**
 * OpenID Connect Session Management 1.0 §3: the `session_state` of a successful authentication
 * response, `hex(SHA-256(client_id " " origin " " browser state " " salt)) "." salt`. The
 * check-session iframe computes the same hash from the message's origin and the cookie it reads:
 * equal while the user's sign-in in this browser stays the same.
 */
export async function sessionState(clientId: string, origin: string, browserState: string, salt = randomToken(16)): Promise<string> {
  const digest = await sha256(`${clientId} ${origin} ${browserState} ${salt}`);
  return `${hex(digest)}.${salt}`;
}

/**
 * The origin the iframe will see the client's messages come from: the redirect URI's, when it is a
 * web origin. A native app's custom scheme has none (its origin is "null", as a sandboxed frame's
 * is), so such responses carry no `session_state`.
 */
export function webOriginOf(redirectUri: string): string | undefined {
  const url = new URL(redirectUri);
  return url.protocol === "https:" || url.protocol === "http:" ? url.origin : undefined;
}
