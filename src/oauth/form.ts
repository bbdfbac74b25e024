import type { Context } from "hono";
import type { Settings } from "../core/settings";
import { sendErrorPage } from "../views/error-page";
import type { PageRenderers } from "../views/render";
import { invalidRequest, OAuthError } from "./errors";

/**
 * Parameters of an `application/x-www-form-urlencoded` body or a query string, parsed strictly:
 * malformed percent-encoding or invalid UTF-8 is an `invalid_request`, and so is a parameter sent
 * twice (RFC 6749 §3.1, §3.2).
 */
export class Params {
  constructor(
    private readonly values: Map<string, string>,
    private readonly repeated: ReadonlyMap<string, string[]> = new Map(),
  ) {}

  /** The parameter's value (for a repeatable one, its first). */
  get(name: string): string | undefined {
    return this.values.get(name);
  }

  /** Every value of a repeatable parameter (`resource`), in order; one or none for the others. */
  getAll(name: string): string[] {
    const values = this.repeated.get(name);
    if (values) return values;
    const value = this.values.get(name);
    return value === undefined ? [] : [value];
  }

  /** The parameter, or `invalid_request` naming it when it is missing or empty. */
  require(name: string): string {
    const value = this.values.get(name);
    if (value === undefined || value === "") throw invalidRequest(`missing required parameter ${name}`);
    return value;
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  /** Every name and value, a repeatable parameter once per value. */
  *entries(): IterableIterator<[string, string]> {
    for (const [name, value] of this.values) {
      const all = this.repeated.get(name);
      if (all) for (const each of all) yield [name, each];
      else yield [name, value];
    }
  }
}

/** Parameter names of the protocols served here: an error may name one of these, never anything else the client sent. */
const KNOWN_PARAMETERS = new Set([
  "grant_type", "code", "redirect_uri", "code_verifier", "refresh_token", "scope", "username", "password", "client_id",
  "client_secret", "token", "token_type_hint", "response_type", "response_mode", "state", "nonce", "prompt", "max_age",
  "claims", "login_hint", "id_token_hint", "ui_locales", "claims_locales", "display", "acr_values", "code_challenge",
  "code_challenge_method", "approval_prompt", "post_logout_redirect_uri", "logout_hint", "access_token", "request",
  "request_uri", "resource", "dpop_jkt", "next", "csrfmiddlewaretoken", "allow", "cancel", "logout",
]);

/** RFC 8707 §2: a client may name several resources, one `resource` parameter each. */
const REPEATABLE = new Set(["resource"]);

function repeated(name: string) {
  const which = KNOWN_PARAMETERS.has(name) ? `parameter ${name}` : "a parameter";
  return invalidRequest(`${which} must not be repeated (RFC 6749 section 3.1)`);
}

function decodeComponent(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, " "));
  } catch {
    throw invalidRequest("the request has malformed percent-encoding or is not valid UTF-8");
  }
}

/** Parses `a=1&b=2`; empty values count as absent, so `scope=` is the same as no scope. */
export function parseParams(text: string): Params {
  const values = new Map<string, string>();
  const seen = new Set<string>();
  let multi: Map<string, string[]> | undefined;
  for (const pair of text.split("&")) {
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    const name = decodeComponent(eq === -1 ? pair : pair.slice(0, eq));
    const value = decodeComponent(eq === -1 ? "" : pair.slice(eq + 1));
    if (REPEATABLE.has(name)) {
      multi ??= new Map();
      const list = multi.get(name) ?? [];
      if (value !== "") list.push(value);
      multi.set(name, list);
      if (value !== "" && !values.has(name)) values.set(name, value);
      continue;
    }
    if (seen.has(name)) throw repeated(name);
    seen.add(name);
    if (value !== "") values.set(name, value);
  }
  return new Params(values, multi);
}

/** Decodes strictly (invalid UTF-8 throws); without `stream` it keeps no state between calls, so one serves every request. */
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/** Reads a form body within `maxBytes`, checking the content type first. */
export async function readFormBody(request: Request, maxBytes: number): Promise<Params> {
  const contentType = request.headers.get("content-type") ?? "";
  const mediaType = contentType.split(";")[0]!.trim().toLowerCase();
  if (mediaType !== "application/x-www-form-urlencoded") {
    throw invalidRequest("the request body must be application/x-www-form-urlencoded");
  }
  return parseParams(await readBodyText(request, maxBytes));
}

/** The body as text, within `maxBytes` (413 beyond), strictly UTF-8 (`invalid_request` otherwise). */
export async function readBodyText(request: Request, maxBytes: number): Promise<string> {
  const declaredLength = request.headers.get("content-length");
  if (Number(declaredLength ?? "0") > maxBytes) throw tooLarge(maxBytes);
  const bytes = await readLimited(request, maxBytes, declaredLength !== null);
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw invalidRequest("the request body is not valid UTF-8");
  }
}

function tooLarge(maxBytes: number): OAuthError {
  return new OAuthError("invalid_request", `the request body is larger than ${maxBytes} bytes`, 413);
}

async function readLimited(request: Request, maxBytes: number, lengthDeclared: boolean): Promise<Uint8Array> {
  // With a declared length (already checked against the limit) one read is enough; workerd
  // enforces that the body matches it. Chunked bodies are read piece by piece up to the limit.
  // (`request.body` builds a stream object on first access: the common case never touches it.)
  if (lengthDeclared) return new Uint8Array(await request.arrayBuffer());
  if (!request.body) return new Uint8Array();
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  const body = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

/** A page's posted form; a body that is no well-formed form (or too large) is answered with the error page instead. */
export async function readPageForm<E extends { Variables: { pages: PageRenderers; settings: Pick<Settings, "MAX_BODY_BYTES"> } }>(
  c: Context<E>,
): Promise<Params | Response> {
  try {
    return await readFormBody(c.req.raw, c.get("settings").MAX_BODY_BYTES);
  } catch (err) {
    if (err instanceof OAuthError) return sendErrorPage(c, err);
    throw err;
  }
}
