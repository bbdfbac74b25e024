/**
 * A real `wrangler dev` for tests from outside the Worker (client libraries, a browser), on a
 * fresh temporary state directory and fresh secrets:
 *
 *   const server = useServer();          // at the top of a test file: one server per file
 *   server().base                        // http://127.0.0.1:PORT
 *   await server().createClient({...})   // through the admin CLI, JSON output
 *
 * Start-up: a copy of the state directory `wrangler d1 migrations apply DB --local` migrated once
 * for the run (migrated-state.ts, the node project's globalSetup; without it, that command runs
 * on DIR), then `wrangler dev --ip 127.0.0.1 --port PORT --persist-to DIR` with SIGNING_KEYS and
 * SECRET_KEY as `--var`, started once /healthz answers. Clients and users are made with the admin
 * CLI (its `main`, in this process, `--json`, one database connection per server, opened once
 * wrangler dev is up). Teardown stops wrangler's whole process group and removes the directory.
 * A failing test prints the tail of wrangler's output.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, inject } from "vitest";
import { main } from "../../../scripts/admin";
import { applyLocalMigrations, openLocalDatabase, type LocalDatabase } from "../../../scripts/lib/local-db";
import { ROOT, WRANGLER_BIN, wranglerEnv } from "../../../scripts/lib/project";
import { generateSigningKeySet } from "../../../src/tokens/generate-keys";
import { copyMigratedState } from "./migrated-state";

export const PASSWORD = "correct horse battery";

export interface ClientOptions {
  name?: string;
  type: "confidential" | "public";
  grantTypes: string[];
  redirectUris?: string[];
  postLogoutRedirectUris?: string[];
  allowedOrigins?: string[];
  scope?: string;
  skipConsent?: boolean;
  authMethod?: "client_secret_basic" | "client_secret_post" | "none";
}

/** What `client create --json` prints. */
export interface CreatedClient {
  client_id: string;
  client_secret: string | null;
  name: string;
  client_type: string;
  grant_types: string[];
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  allowed_origins: string[];
  scope: string;
  skip_authorization: boolean;
  token_endpoint_auth_method: string;
}

/** What `user create --json` prints, plus the password it was made with. */
export interface CreatedUser {
  id: string;
  username: string;
  email: string | null;
  password: string;
}

export interface TestServer {
  port: number;
  /** `http://127.0.0.1:PORT` */
  base: string;
  /** The issuer: `${base}/o`. */
  issuer: string;
  stateDir: string;
  /** A temporary directory of this server for the test's own files (removed at teardown). */
  tempDir: string;
  /** Runs an admin CLI command with `--json --persist-to <state>`; returns its parsed output. */
  admin<T = Record<string, unknown>>(args: string[]): Promise<T>;
  createClient(options: ClientOptions): Promise<CreatedClient & { client_secret: string | null }>;
  /** A user with a unique name (prefix + random) and the password {@link PASSWORD}. */
  createUser(prefix?: string, email?: string): Promise<CreatedUser>;
  /** wrangler's output so far. */
  output(): string;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Extra Worker vars (`--var NAME:VALUE`). */
  vars?: Record<string, string>;
  /** How long wrangler may take to answer /healthz. */
  startTimeoutMs?: number;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const randomText = (bytes: number) => Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString("base64url");

/** Keeps the last `limit` characters of a stream's output. */
function outputBuffer(limit = 200_000) {
  let text = "";
  return {
    add(chunk: Buffer | string) {
      text += chunk.toString();
      if (text.length > limit) text = text.slice(-limit);
    },
    get: () => text,
  };
}

function stopGroup(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return Promise.resolve();
  const kill = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal); // the whole group: wrangler and its workerd
    } catch {
      // already gone
    }
  };
  kill("SIGTERM");
  const timer = setTimeout(() => kill("SIGKILL"), 5_000);
  return Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]).then(() => clearTimeout(timer));
}

/**
 * Starts migrations + `wrangler dev` on a fresh state directory. Prefer {@link useServer} in test
 * files. The ports come from `freePort`, which frees them again before wrangler binds them, so
 * another process (a workerd of a test file running alongside) may take one in between: then it
 * starts again on new ports, up to three times.
 */
export async function startServer(options: StartOptions = {}): Promise<TestServer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startServerOnce(options);
    } catch (error) {
      if (attempt >= 3 || !/Address already in use/.test((error as Error).message)) throw error;
    }
  }
}

async function startServerOnce(options: StartOptions): Promise<TestServer> {
  const tempDir = mkdtempSync(join(tmpdir(), "eot-interop-"));
  const stateDir = join(tempDir, "state");
  // An empty env file: wrangler then ignores a developer's .dev.vars in the project.
  const envFile = join(tempDir, "empty.env");
  writeFileSync(envFile, "");
  const output = outputBuffer();
  let child: ChildProcess | undefined;
  let exited: Promise<unknown> = Promise.resolve();
  let local: Promise<LocalDatabase> | undefined;

  const stop = async () => {
    if (child) await stopGroup(child, exited);
    if (local) await (await local.catch(() => undefined))?.dispose();
    rmSync(tempDir, { recursive: true, force: true });
  };

  try {
    const [port, inspectorPort] = await Promise.all([freePort(), freePort()]);
    const base = `http://127.0.0.1:${port}`;
    const vars: Record<string, string> = {
      SIGNING_KEYS: JSON.stringify(await generateSigningKeySet()),
      SECRET_KEY: randomText(32),
      ...options.vars,
    };
    // The database first: nothing may have its files open while they are copied in.
    await prepareState(stateDir);
    const args = [
      WRANGLER_BIN, "dev",
      "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspectorPort),
      "--persist-to", stateDir, "--env-file", envFile,
      ...Object.entries(vars).flatMap(([name, value]) => ["--var", `${name}:${value}`]),
    ];
    const spawned = spawn(process.execPath, args, {
      cwd: ROOT,
      env: wranglerEnv({ CI: "1" }),
      detached: true, // its own process group, so stopping it stops workerd too
      stdio: ["ignore", "pipe", "pipe"],
    });
    child = spawned;
    exited = new Promise((resolve) => spawned.once("exit", resolve));
    spawned.stdout!.on("data", output.add);
    spawned.stderr!.on("data", output.add);

    await waitForHealth(base, spawned, options.startTimeoutMs ?? 90_000);
    // Then the admin CLI's connection to the same database (wrangler's local runtime, as the CLI
    // opens it), once wrangler dev's runtime is up: two starting on the same SQLite files at once
    // can fail with "database is locked: SQLITE_BUSY".
    local = openLocalDatabase(stateDir);
    await local;
    const openShared = async () => ({ ...(await local!), dispose: async () => {} });

    const admin = async <T>(cliArgs: string[]): Promise<T> => {
      let stdout = "";
      let stderr = "";
      const io = { out: (t: string) => (stdout += `${t}\n`), err: (t: string) => (stderr += `${t}\n`) };
      const code = await main([...cliArgs, "--json", "--persist-to", stateDir], io, { openLocal: openShared });
      if (code !== 0) throw new Error(`admin ${cliArgs.join(" ")} exited with ${code}:\n${stderr}${stdout}`);
      return JSON.parse(stdout) as T;
    };

    return {
      port,
      base,
      issuer: `${base}/o`,
      stateDir,
      tempDir,
      admin,
      createClient(client) {
        const list = (flag: string, values: string[] | undefined) => (values?.length ? [flag, values.join(",")] : []);
        return admin<CreatedClient>([
          "client", "create",
          "--name", client.name ?? "Test client",
          "--type", client.type,
          "--grant-types", client.grantTypes.join(","),
          ...list("--redirect-uris", client.redirectUris),
          ...list("--post-logout-redirect-uris", client.postLogoutRedirectUris),
          ...list("--allowed-origins", client.allowedOrigins),
          ...(client.scope !== undefined ? ["--scope", client.scope] : []),
          ...(client.skipConsent ? ["--skip-consent"] : []),
          ...(client.authMethod ? ["--auth-method", client.authMethod] : []),
        ]);
      },
      async createUser(prefix = "user", email) {
        const username = `${prefix}${randomText(6).replace(/[^A-Za-z0-9]/g, "x")}`;
        const user = await admin<Omit<CreatedUser, "password">>([
          "user", "create", "--username", username, "--password", PASSWORD, ...(email ? ["--email", email] : []),
        ]);
        return { ...user, password: PASSWORD };
      },
      output: output.get,
      stop,
    };
  } catch (error) {
    const message = `${(error as Error).message}\n--- wrangler dev output ---\n${output.get()}`;
    await stop();
    throw new Error(message, { cause: error });
  }
}

/**
 * A copy of the run's migrated state directory (migrated-state.ts); without that globalSetup,
 * `wrangler d1 migrations apply DB --local --persist-to DIR` (CI=1) here.
 */
function prepareState(stateDir: string): Promise<void> {
  const broker = inject("migratedStateBroker");
  return broker ? copyMigratedState(broker, stateDir) : applyLocalMigrations(stateDir);
}

async function waitForHealth(base: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`wrangler dev exited (${child.exitCode ?? child.signalCode}) before answering /healthz`);
    }
    try {
      const res = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(2_000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`wrangler dev did not answer ${base}/healthz within ${timeoutMs / 1000} s`);
}

/**
 * One server for the calling test file: started in `beforeAll`, stopped in `afterAll`; a failed
 * test prints the end of wrangler's output. Returns a getter (the server exists once started).
 */
export function useServer(options: StartOptions = {}): () => TestServer {
  let server: TestServer | undefined;
  beforeAll(async () => {
    server = await startServer(options);
  }, (options.startTimeoutMs ?? 90_000) + 60_000);
  afterAll(async () => {
    await server?.stop();
  });
  beforeEach((context) => {
    context.onTestFailed(() => {
      if (server) console.error(`--- wrangler dev output (last 8000 characters) ---\n${server.output().slice(-8_000)}`);
    });
  });
  return () => {
    if (!server) throw new Error("the server is not running (beforeAll failed?)");
    return server;
  };
}
