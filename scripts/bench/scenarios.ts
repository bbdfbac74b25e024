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
  },
];

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
