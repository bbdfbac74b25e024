import type { Context } from "hono";
import { serverError } from "../oauth/errors";
import type { ProviderEnv } from "../types";

type Ctx = Context<ProviderEnv>;

/** `POST {basePath}/register/` (RFC 7591 §3): dynamic client registration. */
export async function registerEndpoint(_c: Ctx): Promise<Response> {
  throw serverError("not built yet");
}

/** `GET`, `PUT`, `DELETE {basePath}/register/{client_id}` (RFC 7592): the client configuration endpoint. */
export async function clientConfigurationEndpoint(_c: Ctx): Promise<Response> {
  throw serverError("not built yet");
}
