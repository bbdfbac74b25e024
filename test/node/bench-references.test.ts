import { tmpdir } from "node:os";
import { join } from "node:path";
import { mkdtempSync, rmSync } from "node:fs";
import { convertV4MiniflareOptions, Log, LogLevel, Miniflare } from "miniflare";
import { createRemoteJWKSet, decodeProtectedHeader, importJWK, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { probe } from "../../scripts/bench/load";
import { PEER_RESOURCE, startOidcPeer, type OidcPeer } from "../../scripts/bench/oidc-peer/peer";
import { references, referenceScenario, type ReferenceName, type ReferenceTargets } from "../../scripts/bench/references";
import { basic, bundleCeilingWorker, CEILING_ISSUER, CEILING_WORKER, ceilingWorker, type CeilingServer } from "../../scripts/bench/server";
import { ROOT } from "../../scripts/lib/project";

const settings = { compatibilityDate: "2026-11-01", compatibilityFlags: [], vars: {}, migrationsDir: "", minify: true };
const form = (authorization: string, body: Record<string, string>): RequestInit => ({
  method: "POST",
  headers: { authorization, "content-type": "application/x-www-form-urlencoded" },
  body: new URLSearchParams(body).toString(),
});

describe("bench: the ceiling Worker", () => {
  const outdir = mkdtempSync(join(tmpdir(), "eot-ceiling-"));
  let mf: Miniflare;
  let ceiling: CeilingServer;
  let publicKey: Awaited<ReturnType<typeof ceilingWorker>>["publicKey"];

  beforeAll(async () => {
    const bundle = await bundleCeilingWorker(ROOT, join(outdir, "bundle"), settings);
    const worker = await ceilingWorker(bundle, settings);
    publicKey = worker.publicKey;
    mf = new Miniflare({
      ...convertV4MiniflareOptions({ host: "127.0.0.1", port: 0, cf: false, log: new Log(LogLevel.WARN), workers: [worker.options] }),
      enableDevRegistry: false,
    });
    await mf.ready;
    ceiling = { ...worker.server, baseUrl: (await mf.unsafeGetDirectURL(CEILING_WORKER)).origin };
  }, 120_000);
  afterAll(async () => {
    await mf?.dispose();
    rmSync(outdir, { recursive: true, force: true });
  });

  it("answers client_credentials with an ES256 at+jwt that verifies with its key", async () => {
    const response = await fetch(`${ceiling.baseUrl}/token`, form(ceiling.authorization, { grant_type: "client_credentials", scope: "read" }));
    expect(response.status).toBe(200);
    const body = (await response.json()) as { access_token: string; token_type: string };
    expect(body.token_type).toBe("Bearer");
    const { payload, protectedHeader } = await jwtVerify(body.access_token, await importJWK(publicKey, "ES256"), {
      issuer: CEILING_ISSUER,
      typ: "at+jwt",
      algorithms: ["ES256"],
    });
    expect(protectedHeader.kid).toBe(publicKey.kid);
    expect(payload).toMatchObject({ sub: ceiling.clientId, client_id: ceiling.clientId, scope: "read" });
    expect(typeof payload.jti).toBe("string");
    expect(payload.exp! - payload.iat!).toBe(3600);
  });

  it("refuses a wrong secret and an unknown client", async () => {
    for (const authorization of [basic(ceiling.clientId, `${ceiling.clientSecret}x`), basic("someone-else", ceiling.clientSecret), "Bearer x"]) {
      const response = await fetch(`${ceiling.baseUrl}/token`, form(authorization, { grant_type: "client_credentials" }));
      expect(response.status).toBe(401);
    }
  });

  it("introspects its own token as active (verify + KV get), a tampered one as inactive", async () => {
    const token = ((await (await fetch(`${ceiling.baseUrl}/token`, form(ceiling.authorization, { grant_type: "client_credentials" }))).json()) as {
      access_token: string;
    }).access_token;
    const active = await fetch(`${ceiling.baseUrl}/introspect`, form(ceiling.authorization, { token }));
    expect(await active.json()).toMatchObject({ active: true, client_id: ceiling.clientId });
    const tampered = `${token.slice(0, -4)}AAAA`;
    const inactive = await fetch(`${ceiling.baseUrl}/introspect`, form(ceiling.authorization, { token: tampered }));
    expect(await inactive.json()).toEqual({ active: false });
    const unauthenticated = await fetch(`${ceiling.baseUrl}/introspect`, form(basic(ceiling.clientId, "wrong"), { token }));
    expect(unauthenticated.status).toBe(401);
  });

  it("passes the checks of the references the bench loads it with", async () => {
    const targets: ReferenceTargets = { ceiling, oidcProvider: null };
    for (const name of ["ceiling_token", "ceiling_introspection"] as ReferenceName[]) {
      const { baseUrl, request } = await references[name].prepare(targets);
      await expect(probe(baseUrl, referenceScenario(references[name]), request, "test")).resolves.toMatchObject({ status: 200 });
    }
  });
});

describe("bench: node-oidc-provider as the peer", () => {
  let peer: OidcPeer;
  beforeAll(async () => {
    peer = await startOidcPeer();
  }, 60_000);
  afterAll(async () => {
    await peer?.dispose();
  });

  it("answers client_credentials for the resource with an ES256 JWT that verifies with its JWKS", async () => {
    const response = await fetch(`${peer.baseUrl}/token`, form(peer.authorization, { grant_type: "client_credentials", scope: "read", resource: PEER_RESOURCE }));
    expect(response.status).toBe(200);
    const body = (await response.json()) as { access_token: string; token_type: string };
    expect(body.token_type).toBe("Bearer");
    expect(decodeProtectedHeader(body.access_token)).toMatchObject({ alg: "ES256", typ: "at+jwt" });
    const { payload } = await jwtVerify(body.access_token, createRemoteJWKSet(new URL(`${peer.baseUrl}/jwks`)), {
      issuer: peer.baseUrl,
      audience: PEER_RESOURCE,
    });
    expect(payload).toMatchObject({ client_id: peer.clientId, scope: "read" });
  });

  it("introspects an opaque client_credentials token, and refuses a wrong secret", async () => {
    const { access_token: token } = (await (await fetch(`${peer.baseUrl}/token`, form(peer.authorization, { grant_type: "client_credentials", scope: "read" }))).json()) as {
      access_token: string;
    };
    expect(token.split(".")).toHaveLength(1);
    const active = await fetch(`${peer.baseUrl}/token/introspection`, form(peer.authorization, { token }));
    expect(await active.json()).toMatchObject({ active: true, client_id: peer.clientId });
    const refused = await fetch(`${peer.baseUrl}/token`, form(basic(peer.clientId, "wrong"), { grant_type: "client_credentials" }));
    expect(refused.status).toBe(401);
  });

  it("passes the checks of the references the bench loads it with", async () => {
    const targets: ReferenceTargets = { ceiling: null, oidcProvider: peer };
    for (const name of ["oidc_provider_client_credentials", "oidc_provider_introspection"] as ReferenceName[]) {
      const { baseUrl, request } = await references[name].prepare(targets);
      await expect(probe(baseUrl, referenceScenario(references[name]), request, "test")).resolves.toMatchObject({ status: 200 });
    }
  });
});
