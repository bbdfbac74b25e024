/**
 * The benchmark's ceiling Worker: the least an authorization server on Workers has to do, written
 * with the same libraries (Hono, jose) and bundled and served the same way as the product. The
 * product's figures are divided by this Worker's, measured in the same run (scripts/bench/main.ts).
 *
 * - `POST /token`: client_credentials for the one client held in memory; HTTP Basic, the secret's
 *   SHA-256 compared in constant time with the stored digest; signs an RFC 9068-like ES256 JWT
 *   (`typ: at+jwt`) with a key imported once per isolate.
 * - `POST /introspect`: the same client authentication; verifies the JWT in `token` (signature, typ,
 *   issuer, expiry) and does one KV get (a revocation note, as the product does).
 *
 * Env: SIGNING_KEY (a private ES256 JWK with kid, as JSON), CLIENT_ID, CLIENT_SECRET_HASH
 * (base64url of the secret's SHA-256), ISSUER, and the KV namespace KV.
 */
import { Hono } from "hono";
import { base64url, importJWK, jwtVerify, SignJWT, type JWK } from "jose";

interface Env {
  SIGNING_KEY: string;
  CLIENT_ID: string;
  CLIENT_SECRET_HASH: string;
  ISSUER: string;
  KV: { get(key: string): Promise<string | null> };
}

interface Keys {
  kid: string;
  sign: CryptoKey;
  verify: CryptoKey;
}

let keys: Promise<Keys> | undefined;

function loadKeys(env: Env): Promise<Keys> {
  keys ??= (async () => {
    const jwk = JSON.parse(env.SIGNING_KEY) as JWK & { kid: string };
    const { d: _private, ...publicJwk } = jwk;
    return {
      kid: jwk.kid,
      sign: (await importJWK(jwk, "ES256")) as CryptoKey,
      verify: (await importJWK(publicJwk, "ES256")) as CryptoKey,
    };
  })();
  return keys;
}

const encoder = new TextEncoder();

function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  const subtle = crypto.subtle as SubtleCrypto & { timingSafeEqual?: (a: Uint8Array, b: Uint8Array) => boolean };
  if (typeof subtle.timingSafeEqual === "function") return subtle.timingSafeEqual(a, b);
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** HTTP Basic (RFC 6749 §2.3.1: form-encoded id and secret) against the one client. */
async function authenticated(header: string | undefined, env: Env): Promise<boolean> {
  if (!header?.startsWith("Basic ")) return false;
  let decoded: string;
  try {
    decoded = atob(header.slice(6));
  } catch {
    return false;
  }
  const colon = decoded.indexOf(":");
  if (colon < 0) return false;
  const unform = (v: string) => decodeURIComponent(v.replace(/\+/g, " "));
  let id: string, secret: string;
  try {
    id = unform(decoded.slice(0, colon));
    secret = unform(decoded.slice(colon + 1));
  } catch {
    return false;
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(secret)));
  return id === env.CLIENT_ID && timingSafeEqual(digest, base64url.decode(env.CLIENT_SECRET_HASH));
}

const invalidClient = { error: "invalid_client" };
const app = new Hono<{ Bindings: Env }>();

app.get("/healthz", (c) => c.text("ok"));

app.post("/token", async (c) => {
  if (!(await authenticated(c.req.header("authorization"), c.env))) return c.json(invalidClient, 401);
  const form = new URLSearchParams(await c.req.text());
  if (form.get("grant_type") !== "client_credentials") return c.json({ error: "unsupported_grant_type" }, 400);
  const scope = form.get("scope") ?? "read";
  const { kid, sign } = await loadKeys(c.env);
  const now = Math.floor(Date.now() / 1000);
  const jti = base64url.encode(crypto.getRandomValues(new Uint8Array(16)));
  const token = await new SignJWT({ client_id: c.env.CLIENT_ID, scope })
    .setProtectedHeader({ alg: "ES256", kid, typ: "at+jwt" })
    .setIssuer(c.env.ISSUER)
    .setSubject(c.env.CLIENT_ID)
    .setAudience(c.env.ISSUER)
    .setIssuedAt(now)
    .setExpirationTime(now + 3600)
    .setJti(jti)
    .sign(sign);
  c.header("cache-control", "no-store");
  return c.json({ access_token: token, token_type: "Bearer", expires_in: 3600, scope });
});

app.post("/introspect", async (c) => {
  if (!(await authenticated(c.req.header("authorization"), c.env))) return c.json(invalidClient, 401);
  const token = new URLSearchParams(await c.req.text()).get("token");
  if (!token) return c.json({ error: "invalid_request" }, 400);
  const { verify } = await loadKeys(c.env);
  try {
    const { payload } = await jwtVerify(token, verify, { issuer: c.env.ISSUER, typ: "at+jwt", algorithms: ["ES256"] });
    if (await c.env.KV.get(`revoked:${String(payload.jti)}`)) return c.json({ active: false });
    return c.json({ active: true, ...payload });
  } catch {
    return c.json({ active: false });
  }
});

export default app;
