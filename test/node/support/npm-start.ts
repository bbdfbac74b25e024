/**
 * `npm start` (scripts/start.ts) as a process, on a state directory and dev vars file of the
 * test's choosing, as its own process group:
 *
 *   const run = await npmStart({ port, stateDir, devVars });   // resolves once the banner is out
 *   run.banner.exportLine                                       // export BASE=… CLIENT_ID=… CLIENT_SECRET=…
 *   await run.stop();                                           // SIGTERM, as Ctrl-C would
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "../../../scripts/lib/project";

/** What the banner prints for the user to paste. */
export interface Banner {
  /** `export BASE=… CLIENT_ID=… CLIENT_SECRET=…` */
  exportLine: string;
  base: string;
  clientId: string;
  clientSecret: string;
  /** The client-credentials curl. */
  curl: string;
  /** The PKCE sign-in: `export VERIFIER=…` and the authorization URL below it. */
  verifier: string;
  signInUrl: URL;
}

export interface NpmStartRun {
  banner: Banner;
  pid: number;
  /** Everything npm start and wrangler printed so far (stdout and stderr). */
  output(): string;
  /** Resolves with the exit code once the process exited. */
  exited: Promise<number | null>;
  /** SIGTERM to npm start, then whatever is left of its process group is killed. */
  stop(): Promise<number | null>;
}

export interface NpmStartOptions {
  port: number;
  stateDir: string;
  devVars: string;
  timeoutMs?: number;
}

const BANNER_END = /export VERIFIER=(\S+)\n\s+(http\S+)\n/;

function parseBanner(output: string): Banner | undefined {
  const end = BANNER_END.exec(output);
  const exported = /^\s*(export BASE=(\S+) CLIENT_ID=(\S+) CLIENT_SECRET=(\S+))$/m.exec(output);
  const curl = /^\s*(curl -s -u \S+ -d grant_type=client_credentials .*)$/m.exec(output);
  if (!end || !exported || !curl) return undefined;
  return {
    exportLine: exported[1]!,
    base: exported[2]!,
    clientId: exported[3]!,
    clientSecret: exported[4]!,
    curl: curl[1]!,
    verifier: end[1]!,
    signInUrl: new URL(end[2]!),
  };
}

export function npmStart(options: NpmStartOptions): Promise<NpmStartRun> {
  const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "scripts", "start.ts")], {
    cwd: ROOT,
    env: {
      ...process.env,
      PATH: `${join(ROOT, "node_modules", ".bin")}:${process.env.PATH ?? ""}`,
      PORT: String(options.port),
      EOT_STATE_DIR: options.stateDir,
      EOT_DEV_VARS: options.devVars,
    },
    detached: true, // its own process group, so a failed test can still stop everything
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));

  const killGroup = () => {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // already gone
    }
  };
  const stop = async () => {
    child.kill("SIGTERM");
    const code = await Promise.race([exited, new Promise<null>((r) => setTimeout(() => r(null), 10_000))]);
    killGroup();
    return code;
  };

  return new Promise<NpmStartRun>((resolve, reject) => {
    let settled = false;
    const fail = (message: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      killGroup();
      reject(new Error(`${message}\n--- npm start output ---\n${output}`));
    };
    const timer = setTimeout(() => fail("no banner within the time limit"), options.timeoutMs ?? 120_000);
    const check = () => {
      const banner = parseBanner(output);
      if (!banner || settled) return;
      settled = true;
      clearTimeout(timer);
      child.stdout.off("data", check);
      resolve({ banner, pid: child.pid!, output: () => output, exited, stop });
    };
    child.stdout.on("data", check);
    void exited.then((code) => fail(`npm start exited with ${code}`));
  });
}
