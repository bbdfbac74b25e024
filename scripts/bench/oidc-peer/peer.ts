import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { generateSigningKey } from "../../../src/tokens/generate-keys";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

/** The resource indicator for which the peer issues JWT access tokens (ES256). */
export const PEER_RESOURCE = "urn:bench:api";

export interface OidcPeer {
  /** `http://127.0.0.1:PORT`, also its issuer. */
  baseUrl: string;
  clientId: string;
  clientSecret: string;
  /** `Basic ...` for client_secret_basic. */
  authorization: string;
  /** node-oidc-provider's version, from its package.json. */
  version: string;
  dispose(): Promise<void>;
}

function basic(id: string, secret: string): string {
  const enc = (v: string) => encodeURIComponent(v).replace(/%20/g, "+");
  return `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString("base64")}`;
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

/**
 * Starts node-oidc-provider (server.ts) in a child Node process, the one running this script (Node
 * 22 under npm scripts), with NODE_ENV=production; resolves once it listens.
 */
export async function startOidcPeer(options: { log?: (line: string) => void } = {}): Promise<OidcPeer> {
  const clientId = "bench-peer-client";
  const clientSecret = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
  const keys = [await generateSigningKey("ES256"), await generateSigningKey("RS256")];
  const version = (require("oidc-provider/package.json") as { version: string }).version;
  const child = spawn(process.execPath, ["--import", "tsx", path.join(here, "server.ts")], {
    cwd: path.resolve(here, "../../.."),
    env: {
      ...process.env,
      NODE_ENV: "production",
      OIDC_PEER_CONFIG: JSON.stringify({ clientId, clientSecret, resource: PEER_RESOURCE, keys }),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
    if (options.log) for (const line of chunk.toString().split("\n").filter(Boolean)) options.log(line);
  });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let stdout = "";
      const timer = setTimeout(() => reject(new Error(`oidc-provider did not start in 30 s:\n${stderr}`)), 30_000);
      child.stdout!.on("data", (chunk: Buffer) => {
        stdout += chunk.toString();
        const newline = stdout.indexOf("\n");
        if (newline < 0) return;
        clearTimeout(timer);
        try {
          resolve((JSON.parse(stdout.slice(0, newline)) as { port: number }).port);
        } catch {
          reject(new Error(`oidc-provider printed ${stdout.slice(0, newline)}`));
        }
      });
      child.once("error", reject);
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`oidc-provider exited (${code}) before listening:\n${stderr}`));
      });
    });
    return {
      baseUrl: `http://127.0.0.1:${port}`,
      clientId,
      clientSecret,
      authorization: basic(clientId, clientSecret),
      version,
      dispose: () => stop(child),
    };
  } catch (err) {
    await stop(child);
    throw err;
  }
}
