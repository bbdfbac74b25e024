import type { Settings } from "../core/settings";
import { nowSeconds } from "../core/time";
import { findClientCached, rememberClient } from "../db/clients";
import type { Database } from "../db/index";
import { saveDocumentClient } from "../db/metadata-clients";
import type { ClientRegistration } from "../db/registration";
import type { Client } from "../db/schema";
import { registrationFromMetadata } from "./client-metadata";
import { invalidClient, OAuthError } from "./errors";

/**
 * OAuth Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document, which the MCP
 * authorization spec uses): a `client_id` that is an https URL names a JSON document, served
 * there, that is the client's metadata. The URL rules, the fetch and its limits, how long a
 * document is kept, and the checks that turn it into a client. README, "Client ID metadata
 * documents"; docs/consistency.md for where the client lives.
 */

/** The whole exchange (connection, headers and body) must end within this time. */
export const DOCUMENT_TIMEOUT_MS = 5_000;
/** Largest document accepted, counted while reading: a Content-Length is not trusted. */
export const DOCUMENT_MAX_BYTES = 5 * 1024;
/**
 * Longest `client_id` URL accepted: it is a primary key, a token claim, a form field, and part of
 * the KV key `revoked:client:<client_id>` (KV keys may have 512 bytes; a URL in normal form is ASCII).
 */
export const CLIENT_ID_URL_MAX_LENGTH = 255;
/**
 * How long a fetched document is used before it is fetched again: its HTTP freshness lifetime
 * (Cache-Control max-age less Age, or Expires), 1 hour when it gives none, and never less than
 * 1 minute (no-store and no-cache included: a flow spans a few requests) nor more than a day (a
 * client's changes, a withdrawn redirect URI first among them, take effect within it).
 */
export const DOCUMENT_CACHE_SECONDS = { min: 60, fallback: 3600, max: 86_400 } as const;

/** A client_id URL or its document refused: invalid_client (401) at the token endpoint, an error page at the authorization endpoint. */
export class ClientIdDocumentError extends OAuthError {
  constructor(description: string) {
    const { error, status, headers } = invalidClient(description);
    super(error, description, status, headers);
  }
}

const refused = (description: string) => new ClientIdDocumentError(description);

/** Whether a client_id is a URL, and so (with CLIENT_ID_METADATA_DOCUMENTS) names a metadata document. Other ids are never URLs. */
export function isUrlClientId(clientId: string): boolean {
  return /^https?:/i.test(clientId);
}

// ---- the URL (draft section 3) ----

/** IPv4 ranges that are not public internet hosts (RFC 6890's special-purpose registry). */
const SPECIAL_IPV4: ReadonlyArray<readonly [string, number]> = [
  ["0.0.0.0", 8], // "this network", unspecified
  ["10.0.0.0", 8], // private
  ["100.64.0.0", 10], // carrier-grade NAT
  ["127.0.0.0", 8], // loopback
  ["169.254.0.0", 16], // link-local (and cloud metadata services)
  ["172.16.0.0", 12], // private
  ["192.0.0.0", 24], // IETF protocol assignments
  ["192.0.2.0", 24], // documentation
  ["192.168.0.0", 16], // private
  ["198.18.0.0", 15], // benchmarking
  ["198.51.100.0", 24], // documentation
  ["203.0.113.0", 24], // documentation
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, broadcast
];

const ipv4Number = (address: string) => address.split(".").reduce((n, octet) => n * 256 + Number(octet), 0);

function isSpecialIpv4(address: string): boolean {
  const n = ipv4Number(address);
  return SPECIAL_IPV4.some(([base, bits]) => Math.floor(n / 2 ** (32 - bits)) === Math.floor(ipv4Number(base) / 2 ** (32 - bits)));
}

/** The eight 16-bit groups of an IPv6 address as the URL parser writes it (hex, `::` compressed). */
function ipv6Groups(address: string): number[] {
  const [head = "", tail] = address.split("::");
  const part = (text: string) => (text === "" ? [] : text.split(":").map((group) => parseInt(group, 16)));
  const left = part(head);
  const right = tail === undefined ? [] : part(tail);
  return [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right];
}

const ipv4Of = (high: number, low: number) => [high >> 8, high & 255, low >> 8, low & 255].join(".");

function isSpecialIpv6(address: string): boolean {
  const g = ipv6Groups(address);
  const first = g[0]!;
  if ((first & 0xfe00) === 0xfc00) return true; // unique local fc00::/7
  if ((first & 0xffc0) === 0xfe80 || (first & 0xffc0) === 0xfec0) return true; // link-local, old site-local
  if ((first & 0xff00) === 0xff00) return true; // multicast
  if (first === 0x2001 && g[1] === 0x0db8) return true; // documentation
  if (first === 0x0100 && g[1] === 0 && g[2] === 0 && g[3] === 0) return true; // discard-only
  if (first === 0x0064 && g[1] === 0xff9b && g[2] === 1) return true; // local-use NAT64
  // Addresses that carry an IPv4 address: unspecified and loopback (as ::/96), mapped, NAT64, 6to4.
  const zeros = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  if (zeros(0, 6) || (zeros(0, 5) && g[5] === 0xffff)) return isSpecialIpv4(ipv4Of(g[6]!, g[7]!));
  if (first === 0x0064 && g[1] === 0xff9b && zeros(2, 6)) return isSpecialIpv4(ipv4Of(g[6]!, g[7]!));
  if (first === 0x2002) return isSpecialIpv4(ipv4Of(g[1]!, g[2]!));
  return false;
}

/** Names that never lead to a public host: loopback, mDNS, private-use and single-label names. */
const LOCAL_NAME_SUFFIXES = [".localhost", ".local", ".internal", ".home.arpa", ".lan", ".intranet", ".corp"];

/** Whether a URL's hostname is loopback, private, link-local or otherwise not a public internet host. */
export function isLocalOrPrivateHost(hostname: string): boolean {
  if (hostname.startsWith("[")) return isSpecialIpv6(hostname.slice(1, -1));
  if (/^\d+\.\d+\.\d+\.\d+$/.test(hostname)) return isSpecialIpv4(hostname);
  const name = hostname.replace(/\.$/, "");
  if (name === "localhost" || !name.includes(".")) return true;
  return LOCAL_NAME_SUFFIXES.some((suffix) => name.endsWith(suffix));
}

/**
 * Whether the server may fetch or POST to a URL a client registered (`jwks_uri`,
 * `backchannel_logout_uri`): https, no credentials, a public host; development
 * (CLIENT_ID_METADATA_PRIVATE_HOSTS) allows http and loopback, private and local hosts too.
 * Returns the URL, or what is wrong with it (to follow "the client's <member> ").
 */
export function checkOutboundUrl(value: string, allowPrivateHosts: boolean): URL | string {
  if (!URL.canParse(value)) return "is not a valid URL";
  const url = new URL(value);
  if (url.protocol !== "https:" && !(allowPrivateHosts && url.protocol === "http:")) return "must use https";
  if (url.username !== "" || url.password !== "") return "must not carry credentials";
  if (!allowPrivateHosts && isLocalOrPrivateHost(url.hostname)) return "must name a public host, not a loopback, private or local one";
  return url;
}

/** A path segment that is `.` or `..`, percent-encoded or not (RFC 3986 section 5.2.4). */
const isDotSegment = (segment: string) => /^(\.|%2e){1,2}$/i.test(segment);

/** RFC 3986 section 6.2.2: percent-encodings are uppercase, and never of an unreserved character. */
function hasNeedlessPercentEncoding(url: string): boolean {
  return [...url.matchAll(/%([0-9a-f]{2})/gi)].some(([, hex]) => hex !== hex!.toUpperCase() || /[A-Za-z0-9._~-]/.test(String.fromCharCode(parseInt(hex!, 16))));
}

/**
 * The client_id URL rules of the draft's section 3, strictly: https, a path, no fragment, no
 * username or password, no dot segments, and (where the draft only discourages one) no query.
 * The URL must also be written as a URL parser writes it (lowercase scheme and host, no default
 * port, no needless percent-encoding): the server compares client_ids as plain strings and never
 * normalizes them, so one document has exactly one client_id. Outside development
 * (CLIENT_ID_METADATA_PRIVATE_HOSTS), hosts that are loopback, private or local are refused too.
 */
export function checkClientIdUrl(clientId: string, allowPrivateHosts: boolean): URL {
  if (clientId.length > CLIENT_ID_URL_MAX_LENGTH) throw refused(`a client_id URL may have at most ${CLIENT_ID_URL_MAX_LENGTH} characters`);
  if (!URL.canParse(clientId)) throw refused("the client_id is not a valid URL");
  const url = new URL(clientId);
  if (url.protocol !== "https:" && !(allowPrivateHosts && url.protocol === "http:")) {
    throw refused("a client_id URL must use https");
  }
  if (clientId.includes("#")) throw refused("a client_id URL must not have a fragment");
  if (url.username !== "" || url.password !== "" || /^[a-z]+:\/\/[^/]*@/i.test(clientId)) {
    throw refused("a client_id URL must not contain a username or password");
  }
  if (clientId.includes("?")) throw refused("a client_id URL must not have a query string");
  const rawPath = clientId.replace(/^[a-z]+:\/\/[^/]*/i, "");
  if (rawPath.split("/").some(isDotSegment)) throw refused("a client_id URL must not contain . or .. path segments");
  if (url.pathname === "/" || rawPath === "") throw refused("a client_id URL must have a path, such as /client.json");
  if (url.href !== clientId || hasNeedlessPercentEncoding(clientId)) {
    throw refused("a client_id URL must be written in normal form: lowercase scheme and host, no default port, percent-encoding only where needed and in uppercase");
  }
  if (!allowPrivateHosts && isLocalOrPrivateHost(url.hostname)) {
    throw refused("a client_id URL must name a public host, not a loopback, private or local one");
  }
  return url;
}

// ---- the fetch (draft sections 4 and 8: no redirects, 200 only, size limit, SSRF) ----

/** Rejects when the signal aborts: reading a body must end within the same time limit as the fetch. */
function abortOf(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    const fail = () => reject(refused(`the client ID metadata document took longer than ${DOCUMENT_TIMEOUT_MS / 1000} seconds`));
    if (signal.aborted) fail();
    else signal.addEventListener("abort", fail, { once: true });
  });
}

/** The body's bytes, read until DOCUMENT_MAX_BYTES and no further. */
async function readLimited(response: Response, aborted: Promise<never>): Promise<Uint8Array> {
  const declared = Number(response.headers.get("content-length") ?? "0");
  if (declared > DOCUMENT_MAX_BYTES) {
    await response.body?.cancel();
    throw refused(`the client ID metadata document is larger than ${DOCUMENT_MAX_BYTES} bytes`);
  }
  const reader = response.body?.getReader();
  const out = new Uint8Array(DOCUMENT_MAX_BYTES);
  let length = 0;
  while (reader) {
    const { done, value } = await Promise.race([reader.read(), aborted]);
    if (done) break;
    if (length + value.byteLength > DOCUMENT_MAX_BYTES) {
      await reader.cancel();
      throw refused(`the client ID metadata document is larger than ${DOCUMENT_MAX_BYTES} bytes`);
    }
    out.set(value, length);
    length += value.byteLength;
  }
  return out.subarray(0, length);
}

const isJsonMediaType = (contentType: string | null) => contentType?.split(";")[0]!.trim().toLowerCase() === "application/json";

function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes)) as unknown;
  } catch {
    throw refused("the client ID metadata document is not valid JSON");
  }
}

/** Seconds a response stays fresh by RFC 9111 (max-age less Age, else Expires less Date), clamped to DOCUMENT_CACHE_SECONDS. */
export function documentCacheSeconds(headers: Headers): number {
  const { min, fallback, max } = DOCUMENT_CACHE_SECONDS;
  const directives = (headers.get("cache-control") ?? "").toLowerCase().split(",").map((d) => d.trim());
  let seconds: number | undefined;
  if (directives.some((d) => d === "no-store" || d === "no-cache")) seconds = 0;
  const maxAge = directives.map((d) => /^max-age="?(\d+)"?$/.exec(d)?.[1]).find((v) => v !== undefined);
  if (seconds === undefined && maxAge !== undefined) seconds = Number(maxAge) - (Number(headers.get("age")) || 0);
  const expires = headers.get("expires");
  if (seconds === undefined && expires !== null) {
    const at = Date.parse(expires);
    const date = Date.parse(headers.get("date") ?? "");
    // An Expires that is not a date (often "0") means already expired (RFC 9111 section 5.3).
    seconds = Number.isNaN(at) ? 0 : (at - (Number.isNaN(date) ? Date.now() : date)) / 1000;
  }
  return Math.min(max, Math.max(min, Math.floor(seconds ?? fallback)));
}

/** GETs the document: no redirects followed, 200 and application/json only, within the time and size limits. */
export async function fetchClientIdDocument(url: URL): Promise<{ body: unknown; cacheSeconds: number }> {
  const signal = AbortSignal.timeout(DOCUMENT_TIMEOUT_MS);
  const aborted = abortOf(signal);
  aborted.catch(() => {});
  let response: Response;
  try {
    response = await fetch(url.href, { method: "GET", headers: { accept: "application/json" }, redirect: "manual", signal });
  } catch {
    throw refused(signal.aborted ? `the client ID metadata document took longer than ${DOCUMENT_TIMEOUT_MS / 1000} seconds` : "the client ID metadata document could not be fetched");
  }
  if (response.status !== 200) {
    await response.body?.cancel();
    throw refused(
      response.status >= 300 && response.status < 400
        ? "the client ID metadata document URL redirects; redirects are not followed"
        : `the client ID metadata document URL answered HTTP ${response.status}, not 200`,
    );
  }
  if (!isJsonMediaType(response.headers.get("content-type"))) {
    await response.body?.cancel();
    throw refused("the client ID metadata document must be served as application/json");
  }
  const body = parseJson(await readLimited(response, aborted));
  return { body, cacheSeconds: documentCacheSeconds(response.headers) };
}

// ---- the document (draft section 4) ----

/** The client a document describes: its client_id is the URL exactly, it holds no secret, and its metadata passes registration's checks. */
export function registrationFromDocument(clientId: string, body: unknown, settings: Settings): ClientRegistration {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw refused("the client ID metadata document must be a JSON object");
  }
  const document = body as Record<string, unknown>;
  if (document.client_id !== clientId) {
    throw refused("the client_id in the client ID metadata document is not the URL it was fetched from");
  }
  if (document.client_secret !== undefined || document.client_secret_expires_at !== undefined) {
    throw refused("a client ID metadata document must not contain a client secret");
  }
  try {
    return registrationFromMetadata(document, { settings, source: "metadata_document" });
  } catch (err) {
    if (!(err instanceof OAuthError)) throw err;
    throw refused(`the client ID metadata document is not valid: ${err.description}`);
  }
}

// ---- the client ----

/** Fetches in flight in this isolate, so that concurrent requests for one document fetch it once. */
const inFlight = new Map<string, Promise<Client>>();

async function fetchAndSave(db: Database, settings: Settings, url: URL): Promise<Client> {
  const { body, cacheSeconds } = await fetchClientIdDocument(url);
  const registration = registrationFromDocument(url.href, body, settings);
  const client = await saveDocumentClient(db, registration, url.href, nowSeconds() + cacheSeconds);
  if (!client) throw refused("this client_id belongs to a client that is not a metadata document's");
  rememberClient(client, settings.CLIENT_CACHE_SECONDS);
  return client;
}

/**
 * The client a client_id URL names. Its row in D1 (cached per isolate like any client) is used
 * while the document is fresh; past `metadata_expires_at` the document is fetched again and the
 * row updated at the primary. A document that can no longer be fetched or validated refuses the
 * client: stale metadata is never used, so a withdrawn document or redirect URI stops working
 * within the cache lifetime.
 */
export async function documentClient(db: Database, settings: Settings, clientId: string): Promise<Client> {
  const url = checkClientIdUrl(clientId, settings.CLIENT_ID_METADATA_PRIVATE_HOSTS);
  const stored = await findClientCached(db, clientId, settings.CLIENT_CACHE_SECONDS);
  if (stored?.source === "metadata_document" && (stored.metadataExpiresAt ?? 0) > nowSeconds()) return stored;
  const pending = inFlight.get(clientId);
  if (pending) return pending;
  const loading = fetchAndSave(db, settings, url).finally(() => inFlight.delete(clientId));
  inFlight.set(clientId, loading);
  return loading;
}
