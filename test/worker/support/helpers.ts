import { env, SELF } from "cloudflare:test";
import { openDatabase } from "../../../src/db/index";
import { registerClient, type ClientRegistration } from "../../../src/db/registration";

export const BASE = "https://auth.example.com";
export const ISSUER = `${BASE}/o`;
export const db = () => openDatabase(env.DB);

export async function createClient(overrides: Partial<ClientRegistration> = {}) {
  const { client, clientSecret } = await registerClient(db(), {
    name: "Test app",
    clientType: "confidential",
    grantTypes: ["client_credentials"],
    scope: "read write",
    ...overrides,
  });
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

/** The `X-Storage-Ops` header as numbers. */
export function storageOps(res: Response): { d1: number; d1_statements: number; kv: number } {
  const header = res.headers.get("x-storage-ops") ?? "";
  const out: Record<string, number> = {};
  for (const part of header.split(",")) {
    const [k, v] = part.trim().split("=");
    if (k) out[k] = Number(v);
  }
  return out as { d1: number; d1_statements: number; kv: number };
}
