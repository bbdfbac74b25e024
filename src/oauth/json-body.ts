import { invalidRequest } from "./errors";
import { readBodyText } from "./form";

/**
 * An `application/json` request body (RFC 7591 §3.1, RFC 7592 §2.2), read within `maxBytes` as
 * the form bodies are: another content type, a body that is not JSON or not valid UTF-8 is an
 * `invalid_request`, a body too large a 413. What the JSON holds is the caller's to check.
 */
export async function readJsonBody(request: Request, maxBytes: number): Promise<unknown> {
  const mediaType = (request.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  if (mediaType !== "application/json") throw invalidRequest("the request body must be application/json");
  const text = await readBodyText(request, maxBytes);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw invalidRequest("the request body is not valid JSON");
  }
}
