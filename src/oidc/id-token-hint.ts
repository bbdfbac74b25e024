import { jwtVerify, type JWTPayload } from "jose";
import { invalidRequest } from "../oauth/errors";
import type { KeyRing } from "../tokens/keys";

/** The claims of an `id_token_hint` that the authorization and logout endpoints use. */
export interface IdTokenHint extends JWTPayload {
  sub: string;
}

// An expired ID token is still a valid hint (OIDC Core §3.1.2.1, RP-Initiated Logout §2): only the signature and issuer count.
const ANY_AGE = 10 * 365 * 24 * 3600;

/**
 * An `id_token_hint`: an ID token this server signed (typ JWT, so an access token is no hint),
 * for `audience` when given; otherwise `invalid_request`.
 */
export async function verifyIdTokenHint(ring: KeyRing, issuer: string, hint: string, audience?: string): Promise<IdTokenHint> {
  try {
    const { payload } = await jwtVerify(
      hint,
      (header) => {
        const key = ring.keys.find((k) => k.kid === header.kid && k.alg === header.alg);
        if (!key) throw new Error("unknown key");
        return key.verifyKey;
      },
      { issuer, audience, typ: "JWT", clockTolerance: ANY_AGE },
    );
    if (typeof payload.sub !== "string") throw new Error("no sub");
    return payload as IdTokenHint;
  } catch {
    throw invalidRequest(`id_token_hint is not an ID token this server issued${audience ? " to this client" : ""}`);
  }
}

/** The client an ID token was issued to: its single audience, or its `azp` among several. */
export function hintedClientId(hint: IdTokenHint): string | undefined {
  if (typeof hint.aud === "string") return hint.aud;
  if (hint.aud?.length === 1) return hint.aud[0];
  return typeof hint.azp === "string" && hint.aud?.includes(hint.azp) ? hint.azp : undefined;
}
