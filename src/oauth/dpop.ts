import { calculateJwkThumbprint, compactVerify, decodeProtectedHeader, errors, importJWK, type JWK } from "jose";
import { base64url, constantTimeEqual, sha256 } from "../core/crypto";

/**
 * DPoP (RFC 9449): proofs of possession checked in one place, for the token endpoint, UserInfo
 * and `requireToken`. Pure checks: replay of a proof's `jti` is the caller's decision (spent at
 * the primary at the token endpoint, a per-isolate cache at resource servers; docs/consistency.md).
 */

/** The proof algorithms accepted and advertised (`dpop_signing_alg_values_supported`): asymmetric only. */
export const DPOP_ALGORITHMS = ["ES256", "ES384", "RS256", "PS256", "Ed25519", "EdDSA"] as const;

/** Members of a private JWK: a proof's `jwk` carrying one is refused (RFC 9449 §4.3, check 7). */
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] as const;

/** What a proof's `error` is: `invalid_dpop_proof`, or `use_dpop_nonce` when a fresh server nonce is needed (§8). */
export type DpopErrorCode = "invalid_dpop_proof" | "use_dpop_nonce";

export class DpopError extends Error {
  override name = "DpopError";
  constructor(
    readonly code: DpopErrorCode,
    readonly description: string,
  ) {
    super(`${code}: ${description}`);
  }
}

const invalid = (description: string) => new DpopError("invalid_dpop_proof", description);

/** A checked proof: the JWK SHA-256 thumbprint of its key (`cnf.jkt`, RFC 7638), its `jti` and `iat`. */
export interface DpopProof {
  jkt: string;
  jti: string;
  iat: number;
}

export interface DpopCheck {
  method: string;
  /** The URL the proof must name in `htu`: compared without query and fragment (§4.3, check 9). */
  url: string;
  /** Now, in Unix seconds. */
  now: number;
  /** How far `iat` may be from now, either way (§11.1). */
  windowSeconds: number;
  /** At a resource server: the access token, whose hash `ath` must be; at the token endpoint, undefined (`ath` must be absent). */
  accessToken?: string;
  /** Server nonces (§8): undefined when none is required. */
  nonce?: { secret: string; lifetimeSeconds: number };
}

/**
 * The `DPoP` header of a request: undefined when none came; an error when several came (Headers
 * joins repeats with ", ", which no compact JWS contains) or it is not one compact JWS.
 */
export function dpopHeader(headers: Headers): string | undefined {
  const value = headers.get("dpop");
  if (value === null) return undefined;
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(value) || value.length > 8192) {
    throw invalid("send exactly one DPoP header holding one compact JWS");
  }
  return value;
}

/** RFC 9449 §4.3 check 9: scheme and host lowercased, default port dropped, no query or fragment. */
function normalizedHtu(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return undefined;
  }
}

/** base64url(SHA-256(token)): a proof's `ath` for an access token (§4.2). */
export const accessTokenHash = async (token: string) => base64url(await sha256(token));

/**
 * Checks a DPoP proof in RFC 9449 §4.3's order: one JWS, `typ` dpop+jwt, an accepted asymmetric
 * `alg`, a public `jwk` whose signature verifies, `jti`, `htm`, `htu`, `iat` within the window,
 * the server nonce when one is required, and `ath` (only with an access token).
 */
export async function checkDpopProof(proof: string, check: DpopCheck): Promise<DpopProof> {
  let header;
  try {
    header = decodeProtectedHeader(proof);
  } catch {
    throw invalid("the DPoP proof is not a JWS");
  }
  if (header.typ !== "dpop+jwt") throw invalid("the DPoP proof's typ must be dpop+jwt");
  if (typeof header.alg !== "string" || !(DPOP_ALGORITHMS as readonly string[]).includes(header.alg)) {
    throw invalid("the DPoP proof's alg is not supported");
  }
  const jwk = header.jwk as JWK | undefined;
  if (!jwk || typeof jwk !== "object" || typeof jwk.kty !== "string") throw invalid("the DPoP proof must carry its public key in jwk");
  if (PRIVATE_MEMBERS.some((member) => member in jwk)) throw invalid("the DPoP proof's jwk must be a public key");
  let key;
  try {
    key = await importJWK(jwk, header.alg);
  } catch {
    // The client's key, whatever is wrong with it (shape, curve, type for the alg).
    throw invalid("the DPoP proof's jwk is not a usable key for its alg");
  }
  let payload: Record<string, unknown>;
  try {
    const verified = await compactVerify(proof, key, { algorithms: [header.alg] });
    payload = JSON.parse(new TextDecoder().decode(verified.payload)) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof errors.JOSEError || err instanceof SyntaxError || err instanceof DOMException) {
      throw invalid("the DPoP proof's signature or key is invalid");
    }
    throw err;
  }
  if (!payload || typeof payload !== "object" || Array.isArray(payload)) throw invalid("the DPoP proof's payload is not a JSON object");
  if (typeof payload.jti !== "string" || payload.jti.length === 0 || payload.jti.length > 256) throw invalid("the DPoP proof needs a jti");
  if (payload.htm !== check.method) throw invalid("the DPoP proof's htm is not this request's method");
  const htu = typeof payload.htu === "string" ? normalizedHtu(payload.htu) : undefined;
  if (htu === undefined || htu !== normalizedHtu(check.url)) throw invalid("the DPoP proof's htu is not this request's URL");
  if (typeof payload.iat !== "number" || Math.abs(check.now - payload.iat) > check.windowSeconds) {
    throw invalid("the DPoP proof's iat is too far from now");
  }
  if (check.nonce) {
    if (typeof payload.nonce !== "string" || !(await nonceIsValid(payload.nonce, check.nonce.secret, check.nonce.lifetimeSeconds, check.now))) {
      throw new DpopError("use_dpop_nonce", "the DPoP proof must carry the server's nonce");
    }
  }
  if (check.accessToken === undefined) {
    if (payload.ath !== undefined) throw invalid("a DPoP proof for the token endpoint carries no ath");
  } else if (typeof payload.ath !== "string" || !(await constantTimeEqual(payload.ath, await accessTokenHash(check.accessToken)))) {
    throw invalid("the DPoP proof's ath is not the hash of this access token");
  }
  return { jkt: await calculateJwkThumbprint(jwk, "sha256"), jti: payload.jti, iat: payload.iat };
}

async function hmac(secret: string, message: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return base64url(new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`dpop nonce ${message}`))));
}

/** How long a server nonce lives: valid in its 300 s bucket and the next. */
export const DPOP_NONCE_SECONDS = 300;

/**
 * A stateless server nonce (§8, §9): the time bucket and an HMAC of it under SECRET_KEY. Nothing is
 * stored; a nonce is valid in its bucket and the next, so for one to two `lifetimeSeconds`.
 */
export async function dpopNonce(secret: string, lifetimeSeconds: number, now: number): Promise<string> {
  const bucket = Math.floor(now / lifetimeSeconds);
  return `${bucket}.${await hmac(secret, String(bucket))}`;
}

async function nonceIsValid(nonce: string, secret: string, lifetimeSeconds: number, now: number): Promise<boolean> {
  const match = /^(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(nonce);
  if (!match) return false;
  const bucket = Number(match[1]);
  const current = Math.floor(now / lifetimeSeconds);
  if (bucket !== current && bucket !== current - 1) return false;
  return constantTimeEqual(match[2]!, await hmac(secret, String(bucket)));
}

/**
 * Proof ids seen by this isolate (resource servers): a replay inside the `iat` window reaching the
 * same isolate is refused without a storage round-trip. Bounded; entries leave when their window ends.
 */
export class SeenProofs {
  private readonly seen = new Map<string, number>();
  constructor(private readonly limit = 10_000) {}

  /** True the first time `jkt`+`jti` is seen before `expiresAt`, false on a replay. */
  firstUse(proof: DpopProof, expiresAt: number, now: number): boolean {
    const id = `${proof.jkt}:${proof.jti}`;
    const until = this.seen.get(id);
    if (until !== undefined && until > now) return false;
    if (this.seen.size >= this.limit) {
      for (const [key, end] of this.seen) if (end <= now) this.seen.delete(key);
      if (this.seen.size >= this.limit) this.seen.clear();
    }
    this.seen.set(id, expiresAt);
    return true;
  }
}

/** `WWW-Authenticate: DPoP …` (§7.1): quoted fields and the accepted algorithms. */
export function dpopChallenge(realm: string, fields: Record<string, string> = {}): string {
  const quoted = Object.entries({ realm, ...fields, algs: DPOP_ALGORITHMS.join(" ") }).map(([k, v]) => `${k}="${v.replace(/["\\]/g, "")}"`);
  return `DPoP ${quoted.join(", ")}`;
}

/** RFC 9449 §7.1: `Authorization: DPoP <token>`; undefined when the header uses another scheme. */
export const usesDpopScheme = (header: string | undefined): header is string => !!header && /^dpop(\s|$)/i.test(header);

/** The token of a DPoP Authorization header, or undefined when malformed. */
export function dpopToken(header: string): string | undefined {
  return /^DPoP +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header)?.[1];
}
