import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { BASE, ISSUER } from "./support/helpers";

/** OpenID Connect Discovery 1.0 §3–4 and RFC 8414 §2–3 (with RFC 9207's iss parameter). */

const DOCUMENTS = [
  `${ISSUER}/.well-known/openid-configuration`,
  `${BASE}/.well-known/oauth-authorization-server/o`,
  `${ISSUER}/.well-known/oauth-authorization-server`,
];

const ENDPOINTS = [
  "authorization_endpoint",
  "token_endpoint",
  "userinfo_endpoint",
  "jwks_uri",
  "end_session_endpoint",
  "revocation_endpoint",
  "introspection_endpoint",
] as const;

async function metadata(url = DOCUMENTS[0]!): Promise<Record<string, unknown>> {
  const res = await SELF.fetch(url);
  expect(res.status, url).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  return res.json();
}

describe("discovery documents", () => {
  it("every location serves the same document, for this issuer, readable from any origin", async () => {
    const first = await metadata();
    for (const url of DOCUMENTS) {
      const res = await SELF.fetch(url, { headers: { origin: "https://anywhere.example.org" } });
      expect(res.headers.get("access-control-allow-origin"), url).toBe("*");
      expect(await res.json(), url).toEqual(first);
    }
    // OIDC Discovery §4.3: the issuer in the document is exactly the one the RP used to find it.
    expect(first.issuer).toBe(ISSUER);
  });

  it("endpoints are absolute https URLs under the issuer", async () => {
    const doc = await metadata();
    for (const name of ENDPOINTS) {
      const value = doc[name];
      expect(typeof value, name).toBe("string");
      expect(new URL(value as string).protocol, name).toBe("https:");
      expect((value as string).startsWith(`${ISSUER}/`), name).toBe(true);
    }
    expect(doc.end_session_endpoint).toBe(`${ISSUER}/logout/`);
  });

  it("every advertised endpoint answers (none is a 404)", async () => {
    const doc = await metadata();
    const expected: Record<(typeof ENDPOINTS)[number], { method: string; status: number }> = {
      authorization_endpoint: { method: "GET", status: 400 },
      token_endpoint: { method: "POST", status: 400 },
      userinfo_endpoint: { method: "GET", status: 401 },
      jwks_uri: { method: "GET", status: 200 },
      end_session_endpoint: { method: "GET", status: 200 },
      revocation_endpoint: { method: "POST", status: 401 },
      introspection_endpoint: { method: "POST", status: 401 },
    };
    for (const name of ENDPOINTS) {
      const { method, status } = expected[name];
      const init: RequestInit = method === "POST" ? { method, headers: { "content-type": "application/x-www-form-urlencoded" }, body: "" } : {};
      const res = await SELF.fetch(doc[name] as string, init);
      expect(res.status, name).not.toBe(404);
      expect(res.status, name).toBe(status);
    }
  });

  it("response types, modes, grant types, subject types (OAuth 2.0 Multiple Response Types, Form Post)", async () => {
    const doc = await metadata();
    expect(doc.response_types_supported).toEqual(
      expect.arrayContaining(["code", "id_token", "id_token token", "code id_token", "code token", "code id_token token"]),
    );
    expect(doc.response_modes_supported).toEqual(expect.arrayContaining(["query", "fragment", "form_post"]));
    expect(doc.grant_types_supported).toEqual(expect.arrayContaining(["authorization_code", "implicit", "refresh_token"]));
    expect(doc.subject_types_supported).toEqual(expect.arrayContaining(["public", "pairwise"]));
  });

  it("PKCE S256 only, iss in authorization responses, the claims parameter, no request objects", async () => {
    const doc = await metadata();
    expect(doc.code_challenge_methods_supported).toEqual(["S256"]);
    expect(doc.authorization_response_iss_parameter_supported).toBe(true);
    expect(doc.claims_parameter_supported).toBe(true);
    expect(doc.request_parameter_supported).toBe(false);
    expect(doc.request_uri_parameter_supported).toBe(false);
  });

  it("ID token algorithms: RS256 (required by Discovery §3) and the keys' other ones; never none", async () => {
    const doc = await metadata();
    const algs = doc.id_token_signing_alg_values_supported as string[];
    expect(algs).toContain("RS256");
    // RFC 9864's fully specified Ed25519 beside the deprecated EdDSA (the default key set has both).
    expect(algs).toEqual(expect.arrayContaining(["Ed25519", "EdDSA"]));
    expect(algs).not.toContain("none");
    // Each advertised algorithm has a published key.
    const jwks = await (await SELF.fetch(doc.jwks_uri as string)).json<{ keys: { alg: string }[] }>();
    for (const alg of algs) expect(jwks.keys.map((k) => k.alg), alg).toContain(alg);
  });

  it("scopes, claims and prompts the endpoints support", async () => {
    const doc = await metadata();
    expect(doc.scopes_supported).toEqual(expect.arrayContaining(["openid", "profile", "email", "address", "phone", "offline_access"]));
    expect(doc.claims_supported).toEqual(expect.arrayContaining(["sub", "iss", "auth_time", "name", "email", "address", "phone_number", "sid"]));
    expect(doc.prompt_values_supported).toEqual(expect.arrayContaining(["none", "login", "consent", "select_account"]));
    expect(doc.token_endpoint_auth_methods_supported).toEqual(expect.arrayContaining(["client_secret_basic", "client_secret_post", "none"]));
    expect(doc.token_endpoint_auth_methods_supported).toEqual(expect.arrayContaining(["private_key_jwt", "client_secret_jwt"]));
    // RFC 8414 §2: the algorithms of JWT client authentication; never "none".
    expect(doc.token_endpoint_auth_signing_alg_values_supported).toEqual(expect.arrayContaining(["RS256", "ES256", "PS256", "EdDSA", "HS256"]));
    expect(doc.token_endpoint_auth_signing_alg_values_supported).not.toContain("none");
  });

  it("the JWKS is public keys only, each with kid, alg and use sig", async () => {
    const res = await SELF.fetch(`${ISSUER}/.well-known/jwks.json`);
    const { keys } = await res.json<{ keys: Record<string, unknown>[] }>();
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) {
      expect(key.kid).toBeTruthy();
      expect(key.alg).toBeTruthy();
      expect(key.use).toBe("sig");
      for (const secret of ["d", "p", "q", "dp", "dq", "qi", "k"]) expect(key, secret).not.toHaveProperty(secret);
    }
  });
});
