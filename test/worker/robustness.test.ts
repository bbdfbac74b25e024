import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { randomAlphanumeric } from "../../src/core/crypto";
import { basic, BASE, createClient } from "./support/helpers";

const FORM = "application/x-www-form-urlencoded";
const BODIES: [string, BodyInit, string | undefined][] = [
  ["bad percent-encoding", "grant_type=%zz&token=%", FORM],
  ["invalid UTF-8 after decoding", "grant_type=%C3%28&token=%FF", FORM],
  ["raw invalid UTF-8", new Uint8Array([0x74, 0x3d, 0xff, 0xfe, 0xfd]), FORM],
  ["repeated parameters", "token=a&token=b&grant_type=x&grant_type=y", FORM],
  ["JSON body", '{"grant_type":"client_credentials"}', "application/json"],
  ["multipart body", "--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n--x--", "multipart/form-data; boundary=x"],
  ["no content type", "grant_type=client_credentials", undefined],
  ["huge body", `token=${"A".repeat(200 * 1024)}`, FORM],
  ["huge parameter count", Array.from({ length: 5000 }, (_, i) => `p${i}=v`).join("&"), FORM],
  ["binary garbage", crypto.getRandomValues(new Uint8Array(512)), FORM],
  ["empty body", "", FORM],
];
const AUTH_HEADERS = ["Basic", "Basic ===", `Basic ${btoa("a:b:c")}`, "Bearer", "Bearer a b", "Digest x", "NTLM"];
const ENDPOINTS = ["/o/token/", "/o/revoke_token/", "/o/introspect/", "/o/authorize/", "/o/login/", "/o/logout/", "/o/userinfo/"];

describe("malformed input never gets a 5xx", () => {
  it.each(ENDPOINTS)("POST %s with malformed bodies and headers", async (path) => {
    for (const [, body, contentType] of BODIES) {
      const headers: Record<string, string> = contentType ? { "content-type": contentType } : {};
      const res = await SELF.fetch(`${BASE}${path}`, { method: "POST", headers, body });
      expect(res.status, `${path} ${contentType}`).toBeLessThan(500);
      await res.arrayBuffer();
    }
    for (const authorization of AUTH_HEADERS) {
      const res = await SELF.fetch(`${BASE}${path}`, {
        method: "POST",
        headers: { "content-type": FORM, authorization },
        body: "grant_type=client_credentials&token=x",
      });
      expect(res.status, `${path} ${authorization}`).toBeLessThan(500);
      await res.arrayBuffer();
    }
  });

  it.each(ENDPOINTS)("GET %s with malformed query strings", async (path) => {
    for (const query of ["%", "%zz", "a=%FF", "client_id=%C3%28", "a=1&a=2", `x=${"y".repeat(20000)}`, "response_type=code&client_id="]) {
      const res = await SELF.fetch(`${BASE}${path}?${query}`);
      expect(res.status, `${path}?${query.slice(0, 30)}`).toBeLessThan(500);
      await res.arrayBuffer();
    }
  });

  it("errors of the JSON endpoints are RFC 6749 error objects", async () => {
    for (const path of ["/o/token/", "/o/revoke_token/", "/o/introspect/"]) {
      const res = await SELF.fetch(`${BASE}${path}`, { method: "POST", headers: { "content-type": FORM }, body: "a=%zz" });
      expect(res.status).toBeGreaterThanOrEqual(400);
      const body = await res.json<{ error: string; error_description: string }>();
      expect(body.error).toMatch(/^(invalid_request|invalid_client)$/);
      expect(body.error_description).toBeTruthy();
    }
  });

  it("keeps serving afterwards", async () => {
    const { clientId, clientSecret } = await createClient();
    const res = await SELF.fetch(`${BASE}/o/token/`, {
      method: "POST",
      headers: { "content-type": FORM, authorization: basic(clientId, clientSecret) },
      body: "grant_type=client_credentials",
    });
    expect(res.status).toBe(200);
  });
});

describe("identifiers", () => {
  it("client ids cannot collide with user subjects (UUIDs): letters and digits only, 32 long", async () => {
    const { clientId } = await createClient();
    expect(clientId).toMatch(/^[A-Za-z0-9]{32}$/);
    for (let i = 0; i < 100; i++) expect(randomAlphanumeric(32)).not.toMatch(/-/);
    expect(crypto.randomUUID()).toMatch(/^[0-9a-f-]{36}$/);
  });
});
