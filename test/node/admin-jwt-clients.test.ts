/**
 * The admin CLI's flags for JWT client authentication and pushed authorization requests:
 * `client create --auth-method private_key_jwt --jwks JSON | --jwks-uri URL`, `client_secret_jwt`
 * (its secret sealed under SECRET_KEY, from .dev.vars here), `--require-par`, and the logout URIs
 * (`--backchannel-logout-uri`, `--frontchannel-logout-uri`). One real process
 * applies the migrations; the rest run through the same `main()`.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportJWK, generateKeyPair } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openLocalDatabase, type LocalDatabase } from "../../scripts/lib/local-db";
import { findClient } from "../../src/db/clients";
import { unsealClientSecret } from "../../src/tokens/client-secret";
import { adminInProcess, adminProcess, cliEnv } from "./support/admin";

const dir = mkdtempSync(join(tmpdir(), "eot-admin-jwt-"));
const stateDir = join(dir, "state");
const state = ["--persist-to", stateDir];
const devVars = join(dir, ".dev.vars");
const secret = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
const previousDevVars = process.env.EOT_DEV_VARS;
let local: LocalDatabase;

beforeAll(async () => {
  writeFileSync(devVars, `SECRET_KEY='${secret}'\n`, { mode: 0o600 });
  process.env.EOT_DEV_VARS = devVars;
  const first = await adminProcess(["client", "list", ...state], { ...cliEnv, EOT_DEV_VARS: devVars, SECRET_KEY: "" });
  expect(first.code, first.stderr).toBe(0);
  local = await openLocalDatabase(stateDir);
});

afterAll(async () => {
  if (previousDevVars === undefined) delete process.env.EOT_DEV_VARS;
  else process.env.EOT_DEV_VARS = previousDevVars;
  await local?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

const admin = (args: string[]) => adminInProcess([...args, ...state], async () => ({ ...local, dispose: async () => {} }));
async function adminJson(args: string[]): Promise<Record<string, unknown>> {
  const run = await admin([...args, "--json"]);
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as Record<string, unknown>;
}
const service = (name: string) => ["client", "create", "--name", name, "--type", "confidential", "--grant-types", "client_credentials"];

async function publicJwks() {
  const { publicKey } = await generateKeyPair("ES256", { extractable: true });
  return { keys: [{ ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256" }] };
}

describe("admin CLI: JWT client authentication and PAR flags", () => {
  it("private_key_jwt with --jwks: no secret is printed, the keys are stored and shown", async () => {
    const jwks = await publicJwks();
    const created = await adminJson([...service("Key client"), "--auth-method", "private_key_jwt", "--jwks", JSON.stringify(jwks)]);
    expect(created.client_secret).toBeNull();
    expect(created).toMatchObject({ token_endpoint_auth_method: "private_key_jwt", jwks });
    const row = (await findClient(local.db, String(created.client_id)))!;
    expect(row.jwks).toEqual(jwks);
    expect(row.secretHash).toBeNull();
    const shown = await admin(["client", "show", String(created.client_id)]);
    expect(shown.stdout).toMatch(/keys \(jwks\)\s+k1/);
  });

  it("private_key_jwt with --jwks-uri, and --require-par", async () => {
    const created = await adminJson([...service("Uri client"), "--auth-method", "private_key_jwt", "--jwks-uri", "https://keys.example.com/jwks.json", "--require-par"]);
    expect(created).toMatchObject({ jwks_uri: "https://keys.example.com/jwks.json", require_pushed_authorization_requests: true });
    expect((await findClient(local.db, String(created.client_id)))!.requirePushedAuthorizationRequests).toBe(true);
    const shown = await admin(["client", "show", String(created.client_id)]);
    expect(shown.stdout).toMatch(/pushed requests \(PAR\)\s+required/);
  });

  it("client_secret_jwt: the secret is printed once, hashed, and sealed under SECRET_KEY; rotation seals the new one", async () => {
    const created = await adminJson([...service("HMAC client"), "--auth-method", "client_secret_jwt"]);
    const clientSecret = String(created.client_secret);
    const row = (await findClient(local.db, String(created.client_id)))!;
    expect(row.secretSealed).not.toContain(clientSecret);
    expect(await unsealClientSecret(secret, row)).toBe(clientSecret);
    const rotated = await adminJson(["client", "rotate-secret", String(created.client_id)]);
    const after = (await findClient(local.db, String(created.client_id)))!;
    expect(await unsealClientSecret(secret, after)).toBe(rotated.client_secret);
    // Other clients' secrets are never sealed.
    const plain = await adminJson([...service("Plain client")]);
    expect((await findClient(local.db, String(plain.client_id)))!.secretSealed).toBeNull();
  });

  it("refuses private_key_jwt without keys or with both, private keys, bad JSON, keys for another method, an http jwks_uri", async () => {
    const jwks = await publicJwks();
    const { privateKey } = await generateKeyPair("ES256", { extractable: true });
    const cases: [string[], RegExp][] = [
      [["--auth-method", "private_key_jwt"], /exactly one of jwks and jwks_uri/],
      [["--auth-method", "private_key_jwt", "--jwks", JSON.stringify(jwks), "--jwks-uri", "https://keys.example.com/j"], /exactly one/],
      [["--auth-method", "private_key_jwt", "--jwks", JSON.stringify({ keys: [await exportJWK(privateKey)] })], /keys must be public/],
      [["--auth-method", "private_key_jwt", "--jwks", "{not json"], /invalid --jwks/],
      [["--jwks", JSON.stringify(jwks)], /only for private_key_jwt/],
      [["--auth-method", "private_key_jwt", "--jwks-uri", "http://keys.example.com/jwks.json"], /https/],
    ];
    for (const [flags, message] of cases) {
      const run = await admin([...service("Refused"), ...flags]);
      expect(run.code, run.stdout).toBe(2);
      expect(run.stderr).toMatch(message);
    }
    const publicClient = await admin(["client", "create", "--name", "Pub", "--type", "public", "--grant-types", "authorization_code", "--redirect-uris", "https://app.example.com/cb", "--auth-method", "private_key_jwt", "--jwks", JSON.stringify(jwks)]);
    expect(publicClient.code).toBe(2);
  });
});

describe("admin CLI: relying-party logout flags (OIDC Back- and Front-Channel Logout)", () => {
  const relyingParty = (name: string) => [
    "client", "create", "--name", name, "--type", "confidential", "--grant-types", "authorization_code",
    "--redirect-uris", "https://app.example.com/callback",
  ];

  it("--backchannel-logout-uri and --frontchannel-logout-uri, with their --*-session-required flags, are stored and shown", async () => {
    const created = await adminJson([
      ...relyingParty("Logout client"),
      "--backchannel-logout-uri", "https://app.example.com/backchannel",
      "--backchannel-logout-session-required",
      "--frontchannel-logout-uri", "https://app.example.com/frontchannel",
    ]);
    expect(created).toMatchObject({
      backchannel_logout_uri: "https://app.example.com/backchannel",
      backchannel_logout_session_required: true,
      frontchannel_logout_uri: "https://app.example.com/frontchannel",
      frontchannel_logout_session_required: false,
    });
    const row = (await findClient(local.db, String(created.client_id)))!;
    expect(row).toMatchObject({ backchannelLogoutUri: "https://app.example.com/backchannel", backchannelLogoutSessionRequired: true });
    const shown = await admin(["client", "show", String(created.client_id)]);
    expect(shown.stdout).toMatch(/back-channel logout\s+https:\/\/app\.example\.com\/backchannel \(with sid\)/);
    expect(shown.stdout).toMatch(/front-channel logout\s+https:\/\/app\.example\.com\/frontchannel\n/);
  });

  it("refuses an http or fragment URI, a front-channel URI off the redirect URIs' origins, and logout URIs on a client that signs nobody in", async () => {
    const cases: [string[], RegExp][] = [
      [[...relyingParty("Refused"), "--backchannel-logout-uri", "http://app.example.com/bc"], /--backchannel-logout-uri.*https/],
      [[...relyingParty("Refused"), "--backchannel-logout-uri", "https://app.example.com/bc#x"], /--backchannel-logout-uri/],
      [[...relyingParty("Refused"), "--frontchannel-logout-uri", "https://other.example.com/fc"], /--frontchannel-logout-uri.*origin/],
      [[...service("Refused"), "--backchannel-logout-uri", "https://app.example.com/bc"], /logout URIs/],
    ];
    for (const [flags, message] of cases) {
      const run = await admin(flags);
      expect(run.code, run.stdout).toBe(2);
      expect(run.stderr).toMatch(message);
    }
  });
});
