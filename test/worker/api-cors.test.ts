import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { basic, BASE, createClient, postToken } from "./support/helpers";
import { unique } from "./support/flow";

/**
 * The ready Worker's /api/*: hono/cors for the origins clients registered. A request without
 * Origin (no CORS) takes a shorter path that must send what hono/cors sends it.
 */
async function readToken(allowedOrigins: string[] = []) {
  const { clientId, clientSecret } = await createClient({ grantTypes: ["client_credentials"], allowedOrigins });
  const res = await postToken({ grant_type: "client_credentials", scope: "read" }, { authorization: basic(clientId, clientSecret) });
  return ((await res.json()) as { access_token: string }).access_token;
}

const api = (headers: Record<string, string>) => SELF.fetch(`${BASE}/api/me`, { headers });
const vary = (res: Response) => (res.headers.get("vary") ?? "").split(",").map((v) => v.trim().toLowerCase());

describe("/api/* CORS headers", () => {
  it("without Origin: Vary: Origin and the exposed challenge header, no Allow-Origin, on success and on a 401", async () => {
    const token = await readToken();
    for (const res of [await api({ authorization: `Bearer ${token}` }), await api({})]) {
      expect(vary(res)).toContain("origin");
      expect(res.headers.get("access-control-expose-headers")).toBe("WWW-Authenticate,DPoP-Nonce");
      expect(res.headers.get("access-control-allow-origin")).toBeNull();
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    }
  });

  it("with a registered Origin: the origin itself is allowed; with another, it is not", async () => {
    const origin = `https://${unique("api-")}.example`;
    const token = await readToken([origin]);
    const allowed = await api({ authorization: `Bearer ${token}`, origin });
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get("access-control-allow-origin")).toBe(origin);
    expect(allowed.headers.get("access-control-expose-headers")).toBe("WWW-Authenticate,DPoP-Nonce");
    expect(vary(allowed)).toContain("origin");
    const other = await api({ authorization: `Bearer ${token}`, origin: `https://${unique("other-")}.example` });
    expect(other.status).toBe(200);
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
    expect(vary(other)).toContain("origin");
  });

  it("a preflight from a registered origin may send the DPoP proof header (RFC 9449)", async () => {
    const origin = `https://${unique("api-")}.example`;
    await readToken([origin]);
    const res = await SELF.fetch(`${BASE}/api/me`, {
      method: "OPTIONS",
      headers: { origin, "access-control-request-method": "GET", "access-control-request-headers": "authorization, dpop" },
    });
    expect(res.headers.get("access-control-allow-origin")).toBe(origin);
    expect(res.headers.get("access-control-allow-headers")?.toLowerCase().split(",")).toEqual(["authorization", "dpop"]);
  });
});
