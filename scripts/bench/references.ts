/**
 * What the product's scenarios are compared with, in the same run and interleaved with them:
 *
 * - the ceiling Worker (ceiling/worker.ts): the least an authorization server on Workers has to do,
 *   Hono + jose, in the same workerd, bundled the same way;
 * - node-oidc-provider (oidc-peer/): the OpenID Certified server for Node, in memory, in a child Node
 *   process.
 *
 * A scenario names its references in `compare` (scenarios.ts); each reference is one fixed request.
 */
import { PEER_RESOURCE, type OidcPeer } from "./oidc-peer/peer";
import { expectAccessToken, form } from "./scenarios";
import type { CeilingServer } from "./server";
import type { BenchRequest, Scenario } from "./types";

export type ReferenceName = "ceiling_token" | "ceiling_introspection" | "oidc_provider_client_credentials" | "oidc_provider_introspection";

export interface ReferenceTargets {
  ceiling: CeilingServer | null;
  oidcProvider: OidcPeer | null;
}

export interface Reference {
  name: ReferenceName;
  /** Which server answers it. */
  target: "ceiling" | "oidc-provider";
  description: string;
  verify(body: string): string | void;
  /** The request to send over and over (anything it needs, such as a token, is fetched here). */
  prepare(targets: ReferenceTargets): Promise<{ baseUrl: string; request: BenchRequest }>;
}

const formHeaders = (authorization: string) => ({ "content-type": "application/x-www-form-urlencoded", authorization });

async function tokenFrom(baseUrl: string, path: string, authorization: string, params: Record<string, string>): Promise<string> {
  const response = await fetch(new URL(path, baseUrl), { method: "POST", headers: formHeaders(authorization), body: form(params) });
  const text = await response.text();
  const problem = response.status === 200 ? expectAccessToken(text) : `status ${response.status}`;
  if (problem) throw new Error(`no access token from ${baseUrl}${path}: ${problem}: ${text.slice(0, 300)}`);
  return (JSON.parse(text) as { access_token: string }).access_token;
}

const expectActive = (body: string) => ((JSON.parse(body) as { active?: unknown }).active === true ? undefined : "the token is not active");

function need<T>(value: T | null, what: string): T {
  if (value === null) throw new Error(`${what} is not running`);
  return value;
}

export const references: Record<ReferenceName, Reference> = {
  ceiling_token: {
    name: "ceiling_token",
    target: "ceiling",
    description: "ceiling Worker: POST /token client_credentials, Basic, ES256 at+jwt",
    verify: expectAccessToken,
    async prepare({ ceiling }) {
      const c = need(ceiling, "the ceiling Worker");
      const body = form({ grant_type: "client_credentials", scope: "read" });
      return { baseUrl: c.baseUrl, request: { method: "POST", path: "/token", headers: formHeaders(c.authorization), body } };
    },
  },
  ceiling_introspection: {
    name: "ceiling_introspection",
    target: "ceiling",
    description: "ceiling Worker: POST /introspect, Basic, ES256 verify + one KV get",
    verify: expectActive,
    async prepare({ ceiling }) {
      const c = need(ceiling, "the ceiling Worker");
      const token = await tokenFrom(c.baseUrl, "/token", c.authorization, { grant_type: "client_credentials", scope: "read" });
      return { baseUrl: c.baseUrl, request: { method: "POST", path: "/introspect", headers: formHeaders(c.authorization), body: form({ token }) } };
    },
  },
  oidc_provider_client_credentials: {
    name: "oidc_provider_client_credentials",
    target: "oidc-provider",
    description: `node-oidc-provider: POST /token client_credentials, Basic, resource=${PEER_RESOURCE} (ES256 JWT)`,
    verify: expectAccessToken,
    async prepare({ oidcProvider }) {
      const p = need(oidcProvider, "node-oidc-provider");
      const body = form({ grant_type: "client_credentials", scope: "read", resource: PEER_RESOURCE });
      return { baseUrl: p.baseUrl, request: { method: "POST", path: "/token", headers: formHeaders(p.authorization), body } };
    },
  },
  oidc_provider_introspection: {
    name: "oidc_provider_introspection",
    target: "oidc-provider",
    description: "node-oidc-provider: POST /token/introspection, Basic, an opaque token (in memory; it does not introspect JWTs)",
    verify: expectActive,
    async prepare({ oidcProvider }) {
      const p = need(oidcProvider, "node-oidc-provider");
      const token = await tokenFrom(p.baseUrl, "/token", p.authorization, { grant_type: "client_credentials", scope: "read" });
      return {
        baseUrl: p.baseUrl,
        request: { method: "POST", path: "/token/introspection", headers: formHeaders(p.authorization), body: form({ token }) },
      };
    },
  },
};

/** A reference as a scenario, for the load runner (no X-Storage-Ops: not the product's routes). */
export function referenceScenario(reference: Reference): Scenario {
  return { name: reference.name, description: reference.description, storageHeader: false, verify: reference.verify };
}
