/**
 * `npm start` (scripts/start.ts) on a fresh state directory and a fresh dev vars file: it writes
 * signing keys, applies migrations, creates the demo user and client, starts `wrangler dev`, and
 * prints an export line, a curl command that really gets a token, and a PKCE sign-in whose
 * callback page shows a curl that really exchanges the code. SIGTERM stops it and wrangler with
 * it. Started again on another port, the demo client keeps its id and secret, and the example
 * SPA's client its id, both registered for the new port only.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../scripts/admin";
import { freePort } from "./support/server";
import { npmStart, type Banner, type NpmStartRun } from "./support/npm-start";
import { authorizeInteractively, UserAgent } from "./support/user-agent";

const dir = mkdtempSync(join(tmpdir(), "eot-start-"));
const stateDir = join(dir, "state");
const devVars = join(dir, "dev.vars");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs a command the way a user pastes it: bash, with the variables of the banner's export lines. */
async function runInShell(command: string, vars: Record<string, string>): Promise<string> {
  const { stdout } = await promisify(execFile)("bash", ["-c", command], { env: { ...process.env, ...vars } });
  return stdout;
}

/** A failing test shows what npm start printed. */
async function withOutput<T>(run: NpmStartRun | undefined, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    throw new Error(`${(error as Error).message}\n--- npm start output ---\n${run?.output() ?? ""}`, { cause: error });
  }
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

describe("npm start", () => {
  let first: Banner | undefined;
  let firstPort = 0;

  it("bootstraps keys, database, demo data and prints working commands", { timeout: 150_000 }, async () => {
    writeFileSync(devVars, "OTHER_SETTING=kept"); // no final newline: the keys go on a line of their own
    firstPort = await freePort();
    const run = await npmStart({ port: firstPort, stateDir, devVars });
    try {
      await withOutput(run, async () => {
        const { banner } = run;
        const base = `http://127.0.0.1:${firstPort}`;
        expect(run.output()).toContain(`running at ${base}`);
        expect(run.output()).toContain("Demo user:       demo / demo-password");
        expect(run.output()).toContain(`Operator console: ${base}/o/admin/  (admin / admin-password)`);
        // The console is on under npm start: a visitor is sent to sign in (it is 404 when off).
        const consolePage = await fetch(`${base}/o/admin/`, { redirect: "manual" });
        expect(consolePage.status).toBe(303);
        expect(consolePage.headers.get("location")).toBe("/o/login/?next=%2Fo%2Fadmin%2F");
        expect(run.output()).toContain(`Created the demo client "Demo SPA" (${join(stateDir, "demo-spa-client.json")})`);
        expect(banner.exportLine).toBe(`export BASE=${base} CLIENT_ID=${banner.clientId} CLIENT_SECRET=${banner.clientSecret}`);
        // Offline (as here, in the sandbox), neither wrangler nor miniflare prints a stack trace.
        expect(run.output()).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);

        // The printed client-credentials curl, run as printed.
        const token = JSON.parse(await runInShell(banner.curl, {}));
        expect(token).toMatchObject({ token_type: "Bearer", scope: "read" });

        // The login page names the demo user (DEMO_USER, set by npm start only).
        expect(await (await fetch(`${base}/o/login/`)).text()).toContain("Demo user: demo / demo-password");

        // The PKCE sign-in: S256 challenge of the printed verifier, no verifier in the URL.
        const url = banner.signInUrl;
        expect(url.searchParams.get("code_challenge_method")).toBe("S256");
        expect(url.searchParams.get("code_challenge")).toBe(await s256(banner.verifier));
        expect(url.href).not.toContain(banner.verifier);
        const agent = new UserAgent();
        const redirectUri = `${base}/demo/callback`;
        const { callback } = await authorizeInteractively(agent, url, { username: "demo", password: "demo-password", redirectUri });
        const page = await (await agent.fetch(callback)).text();
        const exchange = /<pre[^>]*>\s*<code>([\s\S]*?)<\/code>/.exec(page)?.[1]?.replace(/&quot;/g, '"').replace(/&amp;/g, "&");
        expect(exchange).toContain("-d code_verifier=$VERIFIER");
        // The page's curl, in a shell with the banner's exports: a token with an ID token.
        const vars = { BASE: base, CLIENT_ID: banner.clientId, CLIENT_SECRET: banner.clientSecret, VERIFIER: banner.verifier };
        expect(JSON.parse(await runInShell(exchange!, vars))).toMatchObject({
          token_type: "Bearer",
          refresh_token: expect.any(String),
          id_token: expect.any(String),
        });

        // Signing keys appended (other lines kept, owner-only), demo client saved for later starts.
        const saved = readFileSync(devVars, "utf8");
        expect(saved).toMatch(/^OTHER_SETTING=kept\nSIGNING_KEYS='\{"keys":\[.*\]\}'\nSECRET_KEY='[\w-]{43}'\n$/);
        expect(statSync(devVars).mode & 0o777).toBe(0o600);
        expect(JSON.parse(readFileSync(join(stateDir, "demo-client.json"), "utf8"))).toEqual({
          client_id: banner.clientId,
          client_secret: banner.clientSecret,
        });

        // SIGTERM to npm start reaches wrangler: both exit and the port is free again.
        expect(await run.stop()).not.toBeNull();
        expect(await portIsFree(firstPort)).toBe(true);

        // The demo user and client are in the state the server used.
        let listed = "";
        const code = await main(["user", "list", "--json", "--persist-to", stateDir], { out: (t) => (listed += t), err: () => {} });
        expect(code).toBe(0);
        const users = (JSON.parse(listed) as { username: string }[]).toSorted((a, b) => a.username.localeCompare(b.username));
        expect(users).toEqual([
          expect.objectContaining({ username: "admin", is_active: true, is_operator: true }),
          expect.objectContaining({ username: "demo", is_active: true, is_operator: false }),
        ]);
        first = banner;
      });
    } finally {
      await run.stop();
    }
  });

  it("keeps the demo client's id and secret on another PORT, registered for that port only", { timeout: 150_000 }, async () => {
    expect(first, "the first start passed").toBeDefined();
    const port = await freePort();
    const run = await npmStart({ port, stateDir, devVars });
    try {
      await withOutput(run, async () => {
        const { banner } = run;
        expect(banner).toMatchObject({ base: `http://127.0.0.1:${port}`, clientId: first!.clientId, clientSecret: first!.clientSecret });
        expect(run.output()).not.toContain("Created the demo client"); // neither "Demo app" nor "Demo SPA"

        // The new port's callback is accepted (on to the login page); the old port's is not.
        const authorize = (redirectUri: string) =>
          fetch(`${banner.base}/o/authorize/?${new URLSearchParams({ response_type: "code", client_id: banner.clientId, redirect_uri: redirectUri, scope: "read" })}`, { redirect: "manual" });
        const current = await authorize(`${banner.base}/demo/callback`);
        expect(current.status).toBe(303);
        expect(current.headers.get("location")).toMatch(/^\/o\/login\//);
        const old = await authorize(`http://127.0.0.1:${firstPort}/demo/callback`);
        expect(old.status).toBe(400);
        expect(old.headers.get("location")).toBeNull();

        // The example SPA's public client too: same id, this port's page as redirect and post-logout URI.
        const spaClientId = (JSON.parse(readFileSync(join(stateDir, "demo-spa-client.json"), "utf8")) as { client_id: string }).client_id;
        const spaConfig = (await (await fetch(`${banner.base}/demo/config.json`)).json()) as { client_id: string; issuer: string };
        expect(spaConfig).toMatchObject({ client_id: spaClientId, issuer: `${banner.base}/o` });
        const spaAuthorize = (page: string) =>
          fetch(`${banner.base}/o/authorize/?${new URLSearchParams({ response_type: "code", client_id: spaClientId, redirect_uri: page, scope: "openid", code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", code_challenge_method: "S256" })}`, { redirect: "manual" });
        expect((await spaAuthorize(`${banner.base}/demo/`)).status).toBe(303);
        expect((await spaAuthorize(`http://127.0.0.1:${firstPort}/demo/`)).status).toBe(400);
        const spaLogout = (page: string) =>
          fetch(`${banner.base}/o/logout/?${new URLSearchParams({ client_id: spaClientId, post_logout_redirect_uri: page })}`);
        expect((await spaLogout(`${banner.base}/demo/`)).status).toBe(200);
        expect((await spaLogout(`http://127.0.0.1:${firstPort}/demo/`)).status).toBe(400);
      });
    } finally {
      await run.stop();
    }
  });
});

async function s256(verifier: string): Promise<string> {
  return Buffer.from(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))).toString("base64url");
}
