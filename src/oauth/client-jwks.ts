import type { JSONWebKeySet } from "jose";
import { IsolateCache } from "../core/isolate-cache";
import { PRIVATE_JWK_MEMBERS } from "../db/registration";
import { checkOutboundUrl } from "./client-id-document";
import { invalidClient, OAuthError } from "./errors";

/**
 * The public keys of a `private_key_jwt` client that registered a `jwks_uri` (RFC 7591 §2): fetched
 * with the limits of client ID metadata documents (https, a public host, no redirects, a time and
 * size limit), kept per isolate for JWKS_URI_CACHE_SECONDS, and fetched again at once, at most once
 * per client every JWKS_URI_REFETCH_SECONDS, when an assertion names a key the set does not have
 * (the client rotated its keys). A failed fetch is remembered as long, per isolate: until then the
 * client is refused without a fetch, so requests cannot make the server fetch a failing
 * jwks_uri once each.
 */

/** The whole exchange must end within this time. */
export const JWKS_URI_TIMEOUT_MS = 5_000;
/** Largest key set accepted, counted while reading. */
export const JWKS_URI_MAX_BYTES = 64 * 1024;
/** How long a fetched key set is used in an isolate before it is fetched again. */
export const JWKS_URI_CACHE_SECONDS = 300;
/** An unknown key makes the isolate fetch the set again, at most once per client in this time; a failed fetch is not tried again before it. */
export const JWKS_URI_REFETCH_SECONDS = 60;

const refused = (description: string) => invalidClient(description);

/** The jwks_uri as a URL we may fetch: https and a public host, unless development allows loopback and private ones. */
export function checkJwksUri(value: string, allowPrivateHosts: boolean): URL {
  const checked = checkOutboundUrl(value, allowPrivateHosts);
  if (typeof checked === "string") throw refused(`the client's jwks_uri ${checked}`);
  return checked;
}

/** A JWK set of public keys only; anything else is refused. */
export function publicKeySet(body: unknown): JSONWebKeySet {
  const keys = (body as { keys?: unknown } | null)?.keys;
  if (typeof body !== "object" || body === null || !Array.isArray(keys)) throw refused("the client's jwks_uri did not answer a JWK set");
  for (const key of keys as unknown[]) {
    if (typeof key !== "object" || key === null || typeof (key as { kty?: unknown }).kty !== "string") {
      throw refused("the client's JWK set has a key without kty");
    }
    if (PRIVATE_JWK_MEMBERS.some((member) => member in key)) throw refused("the client's JWK set must hold public keys only");
  }
  return { keys: keys as JSONWebKeySet["keys"] };
}

async function readLimited(response: Response, signal: AbortSignal): Promise<Uint8Array> {
  if (Number(response.headers.get("content-length") ?? "0") > JWKS_URI_MAX_BYTES) {
    await response.body?.cancel();
    throw refused(`the client's JWK set is larger than ${JWKS_URI_MAX_BYTES} bytes`);
  }
  const reader = response.body?.getReader();
  const out = new Uint8Array(JWKS_URI_MAX_BYTES);
  let length = 0;
  while (reader) {
    if (signal.aborted) {
      await reader.cancel();
      throw refused("the client's jwks_uri took too long");
    }
    const { done, value } = await reader.read();
    if (done) break;
    if (length + value.byteLength > JWKS_URI_MAX_BYTES) {
      await reader.cancel();
      throw refused(`the client's JWK set is larger than ${JWKS_URI_MAX_BYTES} bytes`);
    }
    out.set(value, length);
    length += value.byteLength;
  }
  return out.subarray(0, length);
}

/** GETs the key set: no redirects, 200 only, JSON, within the time and size limits. */
export async function fetchJwksUri(url: URL): Promise<JSONWebKeySet> {
  const signal = AbortSignal.timeout(JWKS_URI_TIMEOUT_MS);
  let response: Response;
  try {
    response = await fetch(url.href, { method: "GET", headers: { accept: "application/jwk-set+json, application/json" }, redirect: "manual", signal });
  } catch {
    throw refused(signal.aborted ? "the client's jwks_uri took too long" : "the client's jwks_uri could not be fetched");
  }
  if (response.status !== 200) {
    await response.body?.cancel();
    throw refused(`the client's jwks_uri answered HTTP ${response.status}, not 200 (redirects are not followed)`);
  }
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(await readLimited(response, signal)));
  } catch (err) {
    if (err instanceof OAuthError) throw err;
    throw refused("the client's jwks_uri did not answer JSON");
  }
  return publicKeySet(body);
}

const cache = new IsolateCache<JSONWebKeySet>(() => true, 1000);
/** Recently failed fetches by URL: the error, and until when it is answered without a fetch (ms). */
const failures = new Map<string, { until: number; error: unknown }>();
/** When each client's set was last fetched again for an unknown key (ms). */
const refetched = new Map<string, number>();

/** Fetches the set, unless a fetch of this URL failed within JWKS_URI_REFETCH_SECONDS: then that failure again. */
async function fetchUnlessFailedRecently(url: URL): Promise<JSONWebKeySet> {
  const now = Date.now();
  const failure = failures.get(url.href);
  if (failure && failure.until > now) throw failure.error;
  try {
    return await fetchJwksUri(url);
  } catch (err) {
    if (failures.size >= 1000) failures.clear();
    failures.set(url.href, { until: now + JWKS_URI_REFETCH_SECONDS * 1000, error: err });
    throw err;
  }
}

/** The key set at `jwksUri`, from this isolate's cache when fresh. */
export function clientKeySet(jwksUri: string, allowPrivateHosts: boolean): Promise<JSONWebKeySet> {
  const url = checkJwksUri(jwksUri, allowPrivateHosts);
  return cache.get(url.href, JWKS_URI_CACHE_SECONDS, () => fetchUnlessFailedRecently(url));
}

/**
 * Forgets the cached set so the next read fetches it again, if this client's set was not fetched
 * again within JWKS_URI_REFETCH_SECONDS in this isolate: true when it was forgotten.
 */
export function mayRefetchKeySet(clientId: string, jwksUri: string): boolean {
  const now = Date.now();
  const last = refetched.get(clientId);
  if (last !== undefined && now - last < JWKS_URI_REFETCH_SECONDS * 1000) return false;
  if (refetched.size >= 1000) refetched.clear();
  refetched.set(clientId, now);
  cache.forget(URL.canParse(jwksUri) ? new URL(jwksUri).href : jwksUri);
  return true;
}
