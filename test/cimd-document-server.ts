/**
 * A scriptable web server for client ID metadata documents (and for the other URLs the Worker
 * fetches or POSTs to: jwks_uri, back-channel logout URIs), answering the outbound fetches of the
 * Worker under test (Miniflare's `outboundService`, set in vitest.config.ts; it runs in Node).
 *
 * Only hosts under `.cimd.test` are answered, and `127.0.0.1:1` (nothing real listens on port 1),
 * for the development setting that allows loopback documents; every other outbound request goes
 * out as it would without this server. Tests script it over HTTP from inside workerd
 * (test/worker/client-id-metadata.test.ts): PUT a document to serve at a URL, then ask how many
 * times, and with which headers, that URL was fetched.
 *
 * Pure Fetch API, no Node modules: the tests in workerd import its constants and types.
 */

export const CONTROL_ORIGIN = "https://control.cimd.test";

/** How a URL answers. */
export interface ScriptedDocument {
  body: string;
  status?: number;
  /** Default `application/json`; null sends no Content-Type. */
  contentType?: string | null;
  headers?: Record<string, string>;
  /** Milliseconds before the response headers are sent. */
  delayMs?: number;
  /** Sent as a stream of small chunks, without Content-Length. */
  streamed?: boolean;
}

/** What the control origin reports about a URL. */
export interface FetchRecord {
  count: number;
  method?: string;
  accept?: string | null;
  /** The last request's body and Content-Type (a POSTed logout token). */
  body?: string;
  contentType?: string | null;
}

const documents = new Map<string, ScriptedDocument>();
const records = new Map<string, FetchRecord>();

function answersFor(url: URL): boolean {
  return url.hostname.endsWith(".cimd.test") || url.host === "127.0.0.1:1";
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function streamOf(text: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(offset, offset + 512));
      offset += 512;
    },
  });
}

async function control(request: Request, url: URL): Promise<Response> {
  const target = url.searchParams.get("url");
  if (url.pathname !== "/documents" || !target) return new Response("unknown control request", { status: 400 });
  if (request.method === "PUT") {
    documents.set(target, (await request.json()) as ScriptedDocument);
    records.set(target, { count: 0 });
    return new Response(null, { status: 204 });
  }
  return Response.json(records.get(target) ?? { count: 0 });
}

async function serve(request: Request, url: URL): Promise<Response> {
  const record = records.get(url.href) ?? { count: 0 };
  const posted = request.method === "POST" ? { body: await request.text(), contentType: request.headers.get("content-type") } : {};
  records.set(url.href, { count: record.count + 1, method: request.method, accept: request.headers.get("accept"), ...posted });
  const doc = documents.get(url.href);
  if (!doc) return new Response("no such document", { status: 404 });
  const headers = new Headers(doc.headers);
  if (doc.contentType !== null) headers.set("content-type", doc.contentType ?? "application/json");
  const respond = () => new Response(doc.streamed ? streamOf(doc.body) : doc.body, { status: doc.status ?? 200, headers });
  return doc.delayMs ? sleep(doc.delayMs).then(respond) : respond();
}

async function passThrough(request: Request): Promise<Response> {
  const hasBody = request.method !== "GET" && request.method !== "HEAD";
  const init = { method: request.method, headers: request.headers, body: hasBody ? request.body : null, redirect: "manual", duplex: "half" };
  return fetch(request.url, init as RequestInit);
}

/** Miniflare's outbound service: the fake document server for its hosts, the network for the rest. */
export function answerOutboundFetch(request: Request): Promise<Response> | Response {
  const url = new URL(request.url);
  if (!answersFor(url)) return passThrough(request);
  if (url.origin === CONTROL_ORIGIN) return control(request, url);
  return serve(request, url);
}
