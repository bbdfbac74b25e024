import { env, SELF } from "cloudflare:test";
import { openDatabase } from "../../../src/db/index";
import { registerClient, type ClientRegistration } from "../../../src/db/registration";

export const BASE = "https://auth.example.com";
export const ISSUER = `${BASE}/o`;
export const db = () => openDatabase(env.DB);

export async function createClient(overrides: Partial<ClientRegistration> = {}, extra: Parameters<typeof registerClient>[2] = {}) {
  const { client, clientSecret } = await registerClient(db(), {
    name: "Test app",
    clientType: "confidential",
    grantTypes: ["client_credentials"],
    scope: "read write",
    ...overrides,
  }, extra);
  return { client, clientId: client.id, clientSecret: clientSecret ?? "" };
}

export function basic(clientId: string, secret: string): string {
  const enc = (v: string) => encodeURIComponent(v).replace(/%20/g, "+");
  return `Basic ${btoa(`${enc(clientId)}:${enc(secret)}`)}`;
}

export function form(values: Record<string, string>): string {
  return new URLSearchParams(values).toString();
}

export async function postToken(body: string | Record<string, string>, headers: Record<string, string> = {}) {
  return SELF.fetch(`${BASE}/o/token/`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: typeof body === "string" ? body : form(body),
  });
}

function storageFigures(res: Response): Record<string, number> {
  const header = res.headers.get("x-storage-ops") ?? "";
  const out: Record<string, number> = {};
  for (const part of header.split(",")) {
    const [k, v] = part.trim().split("=");
    if (k) out[k] = Number(v);
  }
  return out;
}

/** The `X-Storage-Ops` header as numbers: D1 round-trips, D1 statements, KV operations. */
export function storageOps(res: Response): { d1: number; d1_statements: number; kv: number } {
  const { d1, d1_statements, kv } = storageFigures(res);
  return { d1: d1!, d1_statements: d1_statements!, kv: kv! };
}

/**
 * Where the D1 round-trips of `X-Storage-Ops` go: to the primary, or through a D1 session that a
 * nearby replica may answer. They add up to `storageOps(res).d1`.
 */
export function d1Routes(res: Response): { primary: number; replica: number } {
  const { d1_primary, d1_replica } = storageFigures(res);
  return { primary: d1_primary!, replica: d1_replica! };
}
