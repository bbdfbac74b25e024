import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ProviderEnv } from "../types";
import { sendPage } from "./render";

/** An error shown to the user on a page (never redirected): an untrusted client, redirect URI or form. */
export function sendErrorPage(
  c: Context<ProviderEnv>,
  err: { error: string; description: string; status: ContentfulStatusCode },
  status = err.status,
): Promise<Response> {
  return sendPage(c, c.get("pages").error({ error: err.error, description: err.description }, c), status);
}
