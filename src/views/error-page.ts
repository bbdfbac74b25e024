import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { sendPage, type PageRenderers } from "./render";

/** An error shown to the user on a page (never redirected): an untrusted client, redirect URI or form. */
export function sendErrorPage<E extends { Variables: { pages: PageRenderers } }>(
  c: Context<E>,
  err: { error: string; description: string; status: ContentfulStatusCode },
  status = err.status,
): Promise<Response> {
  return sendPage(c, c.get("pages").error({ error: err.error, description: err.description }, c), status);
}
