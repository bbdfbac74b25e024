/**
 * `npm start`: a working authorization server on a fresh clone.
 *
 *  1. Puts development SIGNING_KEYS and SECRET_KEY into .dev.vars if it lacks them (mode 0600, other lines kept).
 *  2. Applies the D1 migrations to the local state.
 *  3. Creates the demo user, the demo operator (admin / admin-password, for the operator console)
 *     and the demo confidential client if they are absent (the client's
 *     secret, known only at creation, is kept in .wrangler/demo-client.json); on another PORT the
 *     saved client keeps its id and secret and gets that port's redirect URI. Likewise the public
 *     client of the example SPA (its id in .wrangler/demo-spa-client.json).
 *  4. Writes the example SPA (examples/spa, oauth4webapi from node_modules, a config.json for this
 *     PORT, a `_headers` file with its CSP) into .wrangler/demo-assets, never into tracked files.
 *  5. Runs `wrangler dev` on 127.0.0.1:$PORT (default 8787), forwarding SIGINT/SIGTERM, with the
 *     var DEMO_USER (the login page names the demo user; a deployed Worker has no such var),
 *     OPERATOR_CONSOLE=true, and
 *     `--assets` for the SPA at /demo/ (Workers Static Assets: a path with a file is served without
 *     running the Worker; /demo/callback has none and stays the Worker's).
 *  6. Once /healthz answers, prints the URL, the demo credentials, the SPA's URL, an `export` line
 *     for the README's walkthrough, a curl that gets a token, and a PKCE sign-in URL with its
 *     code_verifier.
 * Exits with wrangler's exit code.
 *
 * Environment: PORT; EOT_STATE_DIR (wrangler's --persist-to, default .wrangler/state; the demo
 * client files and the SPA's assets then live in that directory); EOT_DEV_VARS (the secrets file,
 * default .dev.vars; when set, wrangler gets it as --env-file).
 */
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import module from "node:module";
import { appendFileSync, chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { constants } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { hashSecret } from "../src/core/crypto";
import { findClient, replaceClientRedirectUris, replaceClientSecretHash } from "../src/db/clients";
import type { Database } from "../src/db/index";
import { newClientSecret, registerClient, registerUser, replaceClientRegistration, type ClientRegistration } from "../src/db/registration";
import { findUserByUsername } from "../src/db/users";
import { generateSigningKeySet } from "../src/tokens/generate-keys";
import { openLocalDatabase } from "./lib/local-db";
import { DEFAULT_STATE_DIR, ROOT, WRANGLER_BIN, wranglerEnv } from "./lib/project";

const DEMO_USERNAME = "demo";
const DEMO_PASSWORD = "demo-password";
/** The operator of the console at /o/admin/ (OPERATOR_CONSOLE is on under npm start). */
const DEMO_OPERATOR = "admin";
const DEMO_OPERATOR_PASSWORD = "admin-password";
const DEMO_CLIENT_NAME = "Demo app";
const DEMO_SPA_NAME = "Demo SPA";
const DEMO_SPA_SCOPE = "openid profile email read";

const port = Number(process.env.PORT || 8787);
const stateDir = resolve(process.env.EOT_STATE_DIR || DEFAULT_STATE_DIR);
const devVarsPath = resolve(process.env.EOT_DEV_VARS || join(ROOT, ".dev.vars"));
const demoClientPath = process.env.EOT_STATE_DIR
  ? join(stateDir, "demo-client.json")
  : join(ROOT, ".wrangler", "demo-client.json");
const demoSpaPath = join(dirname(demoClientPath), "demo-spa-client.json");
const assetsDir = join(dirname(demoClientPath), "demo-assets");
const baseUrl = `http://127.0.0.1:${port}`;
const spaUrl = `${baseUrl}/demo/`;
const show = (path: string) => (path.startsWith(ROOT) ? relative(ROOT, path) : path);

/** Step 1: the secrets in the dev vars file: SIGNING_KEYS (JWK set) and SECRET_KEY (sessions, codes). */
async function ensureDevSecrets(): Promise<void> {
  const secrets: [string, () => Promise<string>, string][] = [
    ["SIGNING_KEYS", async () => JSON.stringify(await generateSigningKeySet()), "development signing keys"],
    ["SECRET_KEY", async () => randomBytes(32).toString("base64url"), "a development SECRET_KEY"],
  ];
  for (const [name, generate, what] of secrets) {
    const existing = existsSync(devVarsPath) ? readFileSync(devVarsPath, "utf8") : "";
    if (new RegExp(`^\\s*(export\\s+)?${name}\\s*=`, "m").test(existing)) continue;
    const separator = existing && !existing.endsWith("\n") ? "\n" : "";
    appendFileSync(devVarsPath, `${separator}${name}='${await generate()}'\n`, { mode: 0o600 });
    chmodSync(devVarsPath, 0o600);
    console.log(`Generated ${what} in ${show(devVarsPath)}.`);
  }
}

interface DemoClient {
  client_id: string;
  client_secret: string;
}

function readDemoClient(): DemoClient | undefined {
  try {
    const saved = JSON.parse(readFileSync(demoClientPath, "utf8")) as Partial<DemoClient>;
    if (typeof saved.client_id === "string" && typeof saved.client_secret === "string") {
      return { client_id: saved.client_id, client_secret: saved.client_secret };
    }
  } catch {
    // missing or unreadable: a new demo client is made
  }
  return undefined;
}

function saveDemoClient(demo: DemoClient): void {
  mkdirSync(dirname(demoClientPath), { recursive: true });
  writeFileSync(demoClientPath, `${JSON.stringify(demo, null, 2)}\n`, { mode: 0o600 });
}

/** Step 3: the demo user and client (reusing the saved client, updated for this PORT). */
async function ensureDemoData(db: Database): Promise<DemoClient> {
  if (!(await findUserByUsername(db, DEMO_USERNAME))) {
    await registerUser(db, { username: DEMO_USERNAME, password: DEMO_PASSWORD });
    console.log(`Created the demo user "${DEMO_USERNAME}".`);
  }
  if (!(await findUserByUsername(db, DEMO_OPERATOR))) {
    await registerUser(db, { username: DEMO_OPERATOR, password: DEMO_OPERATOR_PASSWORD, operator: true });
    console.log(`Created the demo operator "${DEMO_OPERATOR}" (the operator console at /o/admin/).`);
  }

  const redirectUris = [`${baseUrl}/demo/callback`, "https://oauth.pstmn.io/v1/callback"];
  const saved = readDemoClient();
  const client = saved && (await findClient(db, saved.client_id));
  if (saved && client) {
    if (!redirectUris.every((uri) => client.redirectUris.includes(uri))) {
      // Registered for another PORT: same client, this port's callback instead of the old one.
      await replaceClientRedirectUris(db, client.id, redirectUris);
    }
    if (client.secretHash === (await hashSecret(saved.client_secret))) return saved;
    // The secret was rotated (e.g. with the admin CLI): give the demo client one we know.
    const { secret, hash } = await newClientSecret();
    await replaceClientSecretHash(db, client.id, hash, null);
    const demo = { client_id: client.id, client_secret: secret };
    saveDemoClient(demo);
    return demo;
  }
  return createDemoClient(db, redirectUris);
}

async function createDemoClient(db: Database, redirectUris: string[]): Promise<DemoClient> {
  const { client: created, clientSecret } = await registerClient(db, {
    name: DEMO_CLIENT_NAME,
    clientType: "confidential",
    grantTypes: ["authorization_code", "refresh_token", "client_credentials"],
    redirectUris,
    scope: "read write",
  });
  const demo = { client_id: created.id, client_secret: clientSecret! };
  saveDemoClient(demo);
  console.log(`Created the demo client "${DEMO_CLIENT_NAME}" (${show(demoClientPath)}).`);
  return demo;
}

/**
 * The example SPA's client: public (PKCE, no secret), its page as redirect and post-logout URI, same
 * origin. A web application: on loopback a public client would otherwise count as native, whose
 * redirect URIs may use any port (RFC 8252 §7.3), and a page of another PORT's server would do.
 */
function demoSpaRegistration(): ClientRegistration {
  return {
    name: DEMO_SPA_NAME,
    clientType: "public",
    applicationType: "web",
    grantTypes: ["authorization_code", "refresh_token"],
    redirectUris: [spaUrl],
    postLogoutRedirectUris: [spaUrl],
    allowedOrigins: [baseUrl],
    scope: DEMO_SPA_SCOPE,
    // Its tokens must be sender-constrained (RFC 9449): a token copied out of the page is useless.
    dpopBoundAccessTokens: true,
  };
}

/** Step 3, the SPA's client: the saved one (registered again when PORT changed its URIs), or a new one. */
async function ensureDemoSpaClient(db: Database): Promise<string> {
  let savedId: string | undefined;
  try {
    const saved = JSON.parse(readFileSync(demoSpaPath, "utf8")) as { client_id?: unknown };
    if (typeof saved.client_id === "string") savedId = saved.client_id;
  } catch {
    // missing or unreadable: a new client is made
  }
  const registration = demoSpaRegistration();
  const client = savedId ? await findClient(db, savedId) : undefined;
  if (client) {
    const same = (a: readonly string[], b: readonly string[] | undefined) => JSON.stringify(a) === JSON.stringify(b ?? []);
    if (
      client.applicationType !== registration.applicationType ||
      !same(client.redirectUris, registration.redirectUris) ||
      !same(client.postLogoutRedirectUris, registration.postLogoutRedirectUris) ||
      !same(client.allowedOrigins, registration.allowedOrigins) ||
      client.dpopBoundAccessTokens !== registration.dpopBoundAccessTokens
    ) {
      await replaceClientRegistration(db, client, registration);
    }
    return client.id;
  }
  const { client: created } = await registerClient(db, registration);
  mkdirSync(dirname(demoSpaPath), { recursive: true });
  writeFileSync(demoSpaPath, `${JSON.stringify({ client_id: created.id }, null, 2)}\n`);
  console.log(`Created the demo client "${DEMO_SPA_NAME}" (${show(demoSpaPath)}).`);
  return created.id;
}

/**
 * The example SPA's response headers (Workers Static Assets `_headers`; the Worker's own page
 * headers never run for assets). Its script, styles and every request (discovery, token, UserInfo,
 * API) are same-origin; it posts no forms and leaves only by navigating; no page may frame it;
 * Trusted Types: it builds no HTML from strings.
 */
const SPA_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "require-trusted-types-for 'script'",
].join("; ");
const SPA_HEADERS = [
  "/demo/*",
  `  Content-Security-Policy: ${SPA_CSP}`,
  "  X-Content-Type-Options: nosniff",
  "  Referrer-Policy: no-referrer",
  "  X-Frame-Options: DENY",
  "  Cross-Origin-Opener-Policy: same-origin",
  "",
].join("\n");

/**
 * Step 4: the assets `wrangler dev --assets` serves: examples/spa at /demo/ with the library it
 * imports and its config for this server. Written afresh on each start (PORT or client may change).
 */
function writeSpaAssets(spaClientId: string): void {
  const source = join(ROOT, "examples", "spa");
  const demo = join(assetsDir, "demo");
  rmSync(assetsDir, { recursive: true, force: true });
  mkdirSync(join(demo, "vendor"), { recursive: true });
  for (const file of ["index.html", "app.js", "style.css"]) copyFileSync(join(source, file), join(demo, file));
  const require = module.createRequire(import.meta.url);
  copyFileSync(require.resolve("oauth4webapi"), join(demo, "vendor", "oauth4webapi.js"));
  const config = {
    issuer: `${baseUrl}/o`,
    client_id: spaClientId,
    scope: DEMO_SPA_SCOPE,
    api: `${baseUrl}/api/me`,
    redirect_uri: spaUrl,
    post_logout_redirect_uri: spaUrl,
  };
  writeFileSync(join(demo, "config.json"), `${JSON.stringify(config, null, 2)}\n`);
  writeFileSync(join(assetsDir, "_headers"), SPA_HEADERS);
}

/**
 * wrangler's environment, plus: no fetch of the `Request.cf` placeholder from workers.cloudflare.com,
 * which prints a stack trace when offline (the Worker never reads `request.cf`); set
 * CLOUDFLARE_CF_FETCH_ENABLED=true to have it anyway.
 */
function devServerEnv(): NodeJS.ProcessEnv {
  return wranglerEnv({ CLOUDFLARE_CF_FETCH_ENABLED: process.env.CLOUDFLARE_CF_FETCH_ENABLED || "false" });
}

function assertPortFree(): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(error.code === "EADDRINUSE" ? new Error(`Port ${port} is in use; set PORT to another one.`) : error),
    );
    server.listen(port, "127.0.0.1", () => server.close(() => resolvePromise()));
  });
}

/**
 * A PKCE sign-in for the banner (RFC 7636, S256). The verifier stays out of the URL: the banner
 * prints it for the user's shell. The state starts with "pkce-", which tells the demo callback
 * page to add `-d code_verifier=$VERIFIER` to its curl (the page keeps no session to remember it).
 */
function pkceSignIn(demo: DemoClient): { verifier: string; url: string } {
  const verifier = randomBytes(32).toString("base64url");
  const query = new URLSearchParams({
    response_type: "code",
    client_id: demo.client_id,
    redirect_uri: `${baseUrl}/demo/callback`,
    scope: "openid profile read",
    state: `pkce-${randomBytes(8).toString("base64url")}`,
    code_challenge: createHash("sha256").update(verifier).digest("base64url"),
    code_challenge_method: "S256",
  });
  return { verifier, url: `${baseUrl}/o/authorize/?${query}` };
}

function banner(demo: DemoClient): string {
  const line = "─".repeat(78);
  const signIn = pkceSignIn(demo);
  return [
    "",
    line,
    `  Edge OAuth Toolkit is running at ${baseUrl}`,
    `  Token endpoint:  ${baseUrl}/o/token/      JWKS: ${baseUrl}/o/.well-known/jwks.json`,
    `  Demo user:       ${DEMO_USERNAME} / ${DEMO_PASSWORD}`,
    `  Demo client:     ${demo.client_id} (secret in ${show(demoClientPath)})`,
    `  Example SPA:     ${spaUrl}  (sign in with PKCE in the browser)`,
    `  Operator console: ${baseUrl}/o/admin/  (${DEMO_OPERATOR} / ${DEMO_OPERATOR_PASSWORD})`,
    "",
    "  For your shell (the README's walkthrough uses these):",
    `  export BASE=${baseUrl} CLIENT_ID=${demo.client_id} CLIENT_SECRET=${demo.client_secret}`,
    "",
    "  Get an access token:",
    `  curl -s -u ${demo.client_id}:${demo.client_secret} -d grant_type=client_credentials -d scope=read ${baseUrl}/o/token/`,
    "",
    "  Sign in as a user (authorization code with PKCE, S256): paste this line into your shell,",
    "  then open the URL; the callback page shows the curl that exchanges the code with $VERIFIER.",
    `  export VERIFIER=${signIn.verifier}`,
    `  ${signIn.url}`,
    line,
    "",
  ].join("\n");
}

async function main(): Promise<number> {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`PORT must be a port number, not "${process.env.PORT}"`);
  await ensureDevSecrets();
  await assertPortFree();

  console.log(`Preparing the local database in ${show(stateDir)}…`);
  const local = await openLocalDatabase(stateDir); // applies pending migrations
  let demo: DemoClient;
  let spaClientId: string;
  try {
    demo = await ensureDemoData(local.db);
    spaClientId = await ensureDemoSpaClient(local.db);
  } finally {
    await local.dispose();
  }
  writeSpaAssets(spaClientId);

  const args = [WRANGLER_BIN, "dev", "--ip", "127.0.0.1", "--port", String(port), "--persist-to", stateDir];
  if (process.env.EOT_DEV_VARS) args.push("--env-file", devVarsPath);
  args.push("--var", `DEMO_USER:${DEMO_USERNAME} / ${DEMO_PASSWORD}`, "--var", "OPERATOR_CONSOLE:true", "--assets", assetsDir);
  const child = spawn(process.execPath, args, { cwd: ROOT, env: devServerEnv(), stdio: "inherit" });
  let exited = false;
  const exit = new Promise<number>((resolvePromise, reject) => {
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      exited = true;
      resolvePromise(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 1));
    });
  });
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      if (!exited) child.kill(signal);
    });
  }

  void (async () => {
    while (!exited) {
      try {
        // The first request waits for the Worker to build (seconds on a busy machine): no early abort and retry.
        const res = await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(60_000) });
        if (res.ok) {
          if (!exited) console.log(banner(demo));
          return;
        }
      } catch {
        // not up yet
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  })();

  return exit;
}

module.enableCompileCache?.();
main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`npm start: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
