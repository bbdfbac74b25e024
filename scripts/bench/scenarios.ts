import { createHash, randomUUID } from "node:crypto";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from "jose";
import { refreshTokens } from "../../src/db/schema";
import { challengeFor } from "../../src/oauth/pkce";
import { parseSettings } from "../../src/core/settings";
import { sealCode } from "../../src/tokens/authorization-code";
import { newGrantId, newRefreshToken } from "../../src/tokens/user-tokens";
import { BENCH_REDIRECT_URI } from "./server";
import type { BenchContext, BenchRequest, RequestSource, Scenario } from "./types";

/**
 * The benchmark's scenarios, run in this order after `baseline` (always first: every ratio is
 * against it). To add one, append an entry:
 *
 * - a fixed request: `{ name, description, request: { method, path, headers, body } }`;
 * - requests that must differ (single-use codes, refresh tokens, ...): a `prepare(ctx, plan)` hook
 *   that seeds what it needs (through `ctx.fetch`, `ctx.db`, `ctx.d1` or `ctx.kv`) and returns a
 *   `RequestSource`; `pool()` below turns an array of inputs into one, and `plan.maxRequests` says
 *   how many the run may use at most. Example, for a future authorization-code scenario:
 *
 *   {
 *     name: "authorization_code",
 *     description: "POST /o/token/ grant_type=authorization_code (one fresh code per request)",
 *     async prepare(ctx, plan) {
 *       const codes = await createCodes(ctx, plan.maxRequests); // seeded straight into D1/KV
 *       return pool(codes, (code) => tokenRequest(ctx, { grant_type: "authorization_code", code, ... }));
 *     },
 *   }
 *
 * Every scenario's first response must have `expectStatus` (default 200), or the run aborts.
 * `compare` names the routes of the ceiling Worker and of node-oidc-provider (references.ts) that
 * the scenario is measured against, interleaved with it.
 */
export const scenarios: Scenario[] = [
  {
    name: "baseline",
    description: "GET /healthz: a trivial route of the same Worker",
    request: { method: "GET", path: "/healthz" },
    storageHeader: false,
    verify: (body) => (body === "ok" ? undefined : `expected "ok"`),
  },
  {
    name: "client_credentials",
    description: "POST /o/token/ grant_type=client_credentials&scope=read, client_secret_basic",
    async prepare(ctx) {
      return fixed(tokenRequest(ctx, { grant_type: "client_credentials", scope: "read" }));
    },
    verify: expectAccessToken,
    compare: { ceiling: "ceiling_token", oidcProvider: "oidc_provider_client_credentials" },
  },
  {
    name: "authorization_code",
    description: "POST /o/token/ grant_type=authorization_code with PKCE (one fresh sealed code per request)",
    async prepare(ctx, plan) {
      const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
      const challenge = await challengeFor(verifier, "S256");
      const expiresAt = Math.floor(Date.now() / 1000) + 3600; // sealed here, so it may outlive the 60 s default
      const codes = await Promise.all(
        Array.from({ length: plan.maxRequests }, () =>
          sealCode(ctx.secretKey, {
            grantId: newGrantId(),
            clientId: ctx.client.id,
            userId: ctx.user.id,
            redirectUri: BENCH_REDIRECT_URI,
            redirectUriSent: true,
            scope: ["read"],
            codeChallenge: challenge,
            codeChallengeMethod: "S256",
            authTime: Math.floor(Date.now() / 1000),
            expiresAt,
          }),
        ),
      );
      return pool(codes, (code) =>
        tokenRequest(ctx, { grant_type: "authorization_code", code, redirect_uri: BENCH_REDIRECT_URI, code_verifier: verifier }),
      );
    },
    verify: expectAccessToken,
  },
  {
    name: "refresh_token",
    description: "POST /o/token/ grant_type=refresh_token (rotation; one fresh refresh token per request)",
    async prepare(ctx, plan) {
      const settings = parseSettings({});
      const tokens: string[] = [];
      for (let done = 0; done < plan.maxRequests; done += 200) {
        const batch = await Promise.all(
          Array.from({ length: Math.min(200, plan.maxRequests - done) }, () =>
            newRefreshToken(settings, ctx.client.record, { grantId: newGrantId(), userId: ctx.user.id, scope: ["read"] }),
          ),
        );
        // D1 binds at most 100 parameters per statement: 9 rows of 10 columns each, in one batch.
        const rows = batch.map((t) => t.row);
        const inserts = [];
        for (let i = 0; i < rows.length; i += 9) inserts.push(ctx.db.insert(refreshTokens).values(rows.slice(i, i + 9)));
        await ctx.db.batch(inserts as [(typeof inserts)[number], ...(typeof inserts)[number][]]);
        tokens.push(...batch.map((t) => t.token));
      }
      return pool(tokens, (refresh_token) => tokenRequest(ctx, { grant_type: "refresh_token", refresh_token }));
    },
    verify: expectAccessToken,
  },
  {
    name: "authorization_page",
    description: "GET /o/authorize/ by a signed-in user: the consent page (session, approval and user in one D1 batch, at a replica)",
    async prepare(ctx) {
      const cookie = await signedInCookies(ctx);
      const query = form({ response_type: "code", client_id: ctx.client.id, redirect_uri: BENCH_REDIRECT_URI, scope: "read", state: "bench" });
      return fixed({ method: "GET", path: `/o/authorize/?${query}`, headers: { cookie } });
    },
    verify: (body) => (body.includes('name="allow"') ? undefined : "not the consent page"),
  },
  {
    name: "introspection",
    description: "POST /o/introspect/ of a user's access token, client_secret_basic",
    async prepare(ctx) {
      const token = await userAccessToken(ctx);
      return fixed({
        method: "POST",
        path: "/o/introspect/",
        headers: { "content-type": "application/x-www-form-urlencoded", authorization: ctx.client.authorization },
        body: form({ token }),
      });
    },
    verify: (body) => (JSON.parse(body).active === true ? undefined : "the token is not active"),
    compare: { ceiling: "ceiling_introspection", oidcProvider: "oidc_provider_introspection" },
  },
  {
    name: "protected_route",
    description: "GET /api/me with a Bearer access token (requireToken: verify + revocation check)",
    async prepare(ctx) {
      const token = await userAccessToken(ctx);
      return fixed({ method: "GET", path: "/api/me", headers: { authorization: `Bearer ${token}` } });
    },
    compare: { ceiling: "ceiling_introspection" },
  },
  {
    name: "protected_route_dpop",
    description: "GET /api/me with a DPoP-bound access token and a fresh DPoP proof per request (RFC 9449: proof signature, htm/htu/iat/ath, jkt, jti seen once)",
    async prepare(ctx, plan) {
      const key = await generateKeyPair("ES256");
      const jwk = await exportJWK(key.publicKey);
      // The token endpoint checks htu against its advertised URL (the ISSUER's), the API against the request's.
      const { token_endpoint } = (await (await ctx.fetch("/o/.well-known/openid-configuration")).json()) as { token_endpoint: string };
      const token = await userAccessToken(ctx, await dpopProof(key.privateKey, jwk, "POST", token_endpoint));
      const ath = createHash("sha256").update(token).digest("base64url");
      // A proof is good once (its jti), so each request gets its own; iat a little ahead, so the
      // proofs stay within the server's ±60 s window for the whole run.
      const iat = Math.floor(Date.now() / 1000) + 20;
      const proofs = await Promise.all(
        Array.from({ length: plan.maxRequests }, () => dpopProof(key.privateKey, jwk, "GET", `${ctx.baseUrl}/api/me`, { ath, iat })),
      );
      const request = (proof: string): BenchRequest => ({
        method: "GET",
        path: "/api/me",
        headers: { authorization: `DPoP ${token}`, dpop: proof },
        // The probes go to the counting twin's socket: a proof for its URL.
        forOrigin: async (origin) => request(await dpopProof(key.privateKey, jwk, "GET", `${origin}/api/me`, { ath })),
      });
      return pool(proofs, request);
    },
    compare: { ceiling: "ceiling_introspection" },
  },
];

/** A DPoP proof (RFC 9449 §4.2) for `method` and `url`, signed with `privateKey` whose public half is `jwk`. */
async function dpopProof(privateKey: CryptoKey, jwk: JWK, method: string, url: string, extra: { ath?: string; iat?: number } = {}): Promise<string> {
  return new SignJWT({ jti: randomUUID(), htm: method, htu: url, iat: extra.iat ?? Math.floor(Date.now() / 1000), ...(extra.ath ? { ath: extra.ath } : {}) })
    .setProtectedHeader({ typ: "dpop+jwt", alg: "ES256", jwk })
    .sign(privateKey);
}

/** The cookies a response sets, as `name=value` pairs, added to `jar`. */
function keepCookies(jar: Map<string, string>, res: Response): void {
  for (const line of res.headers.getSetCookie()) {
    const pair = line.split(";")[0]!;
    const eq = pair.indexOf("=");
    jar.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
}

/** The seeded user's browser cookies after signing in on the login form (CSRF token included). */
async function signedInCookies(ctx: BenchContext): Promise<string> {
  const jar = new Map<string, string>();
  const cookieHeader = () => [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
  const page = await ctx.fetch("/o/login/");
  keepCookies(jar, page);
  const csrf = /name="csrfmiddlewaretoken" value="([^"]+)"/.exec(await page.text())?.[1];
  if (!csrf) throw new Error("the login page has no csrfmiddlewaretoken");
  const signedIn = await ctx.fetch("/o/login/", {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie: cookieHeader() },
    body: form({ username: ctx.user.username, password: ctx.user.password, csrfmiddlewaretoken: csrf }),
  });
  keepCookies(jar, signedIn);
  if (signedIn.status >= 400) throw new Error(`sign-in failed: ${signedIn.status} ${await signedIn.text()}`);
  return cookieHeader();
}

/** An access token of the seeded user, from the password grant (bound to the key of `dpop`, a proof, when given). */
async function userAccessToken(ctx: BenchContext, dpop?: string): Promise<string> {
  const res = await ctx.fetch("/o/token/", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: ctx.client.authorization, ...(dpop ? { dpop } : {}) },
    body: form({ grant_type: "password", username: ctx.user.username, password: ctx.user.password, scope: "read" }),
  });
  const body = (await res.json()) as { access_token?: string };
  if (!body.access_token) throw new Error(`password grant failed: ${res.status} ${JSON.stringify(body)}`);
  return body.access_token;
}

// ---- helpers for scenarios ----

export function form(values: Record<string, string>): string {
  return new URLSearchParams(values).toString();
}

/** A POST to the token endpoint, authenticated with the seeded client (client_secret_basic by default). */
export function tokenRequest(ctx: BenchContext, params: Record<string, string>, headers: Record<string, string> = {}): BenchRequest {
  return {
    method: "POST",
    path: "/o/token/",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: ctx.client.authorization,
      ...headers,
    },
    body: form(params),
  };
}

/** A source that sends the same request every time. */
export function fixed(request: BenchRequest): RequestSource {
  return { next: () => request, fixed: request };
}

/** A source that uses each input once, in order (pre-created codes, refresh tokens, ...). */
export function pool<T>(items: readonly T[], toRequest: (item: T) => BenchRequest): RequestSource {
  let index = 0;
  return {
    next() {
      const item = items[index++];
      if (item === undefined) throw new Error(`request pool exhausted after ${items.length} requests`);
      return toRequest(item);
    },
    remaining: () => items.length - index,
  };
}

/** `verify` for token responses: a JSON body with an access_token. */
export function expectAccessToken(body: string): string | void {
  let json: { access_token?: unknown; token_type?: unknown };
  try {
    json = JSON.parse(body) as typeof json;
  } catch {
    return "the response is not JSON";
  }
  if (typeof json.access_token !== "string" || !json.access_token) return "the response has no access_token";
  if (json.token_type !== "Bearer") return `token_type is ${String(json.token_type)}, not Bearer`;
}
