/**
 * `npm start` (scripts/start.ts) on a fresh state directory and a fresh dev vars file: it writes
 * signing keys, applies migrations, creates the demo user and client, starts `wrangler dev`, and
 * prints a curl command that really gets a token. SIGTERM stops it and wrangler with it.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { main } from "../../scripts/admin";
import { ROOT } from "../../scripts/lib/project";
import { freePort } from "./support/server";

const dir = mkdtempSync(join(tmpdir(), "eot-start-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it("npm start bootstraps keys, database, demo data and prints a working curl", { timeout: 150_000 }, async () => {
  const stateDir = join(dir, "state");
  const devVars = join(dir, "dev.vars");
  writeFileSync(devVars, "OTHER_SETTING=kept"); // no final newline: the keys go on a line of their own
  const port = await freePort();

  const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "scripts", "start.ts")], {
    cwd: ROOT,
    env: {
      ...process.env,
      PATH: `${join(ROOT, "node_modules", ".bin")}:${process.env.PATH ?? ""}`,
      PORT: String(port),
      EOT_STATE_DIR: stateDir,
      EOT_DEV_VARS: devVars,
    },
    detached: true, // its own process group, so a failed test can still stop everything
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));

  try {
    const curl = await new Promise<RegExpMatchArray>((resolve, reject) => {
      const pattern = /curl -s -u (\S+):(\S+) -d grant_type=client_credentials -d scope=read (\S+)/;
      const timer = setTimeout(() => reject(new Error("no banner within 120 s")), 120_000);
      const check = () => {
        const match = output.match(pattern);
        if (match) {
          clearTimeout(timer);
          resolve(match);
        }
      };
      child.stdout.on("data", check);
      void exited.then((code) => reject(new Error(`npm start exited with ${code}`)));
    });
    const [, clientId, secret, tokenUrl] = curl;
    expect(output).toContain(`running at http://127.0.0.1:${port}`);
    expect(output).toContain("Demo user:       demo / demo-password");
    expect(tokenUrl).toBe(`http://127.0.0.1:${port}/o/token/`);

    // The printed command, as curl sends it.
    const res = await fetch(tokenUrl!, {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString("base64")}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: "grant_type=client_credentials&scope=read",
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ token_type: "Bearer", scope: "read" });

    // Signing keys appended (other lines kept, owner-only), demo client saved for later starts.
    const vars = readFileSync(devVars, "utf8");
    expect(vars).toMatch(/^OTHER_SETTING=kept\nSIGNING_KEYS='\{"keys":\[.*\]\}'\nSECRET_KEY='[\w-]{43}'\n$/);
    expect(statSync(devVars).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(join(stateDir, "demo-client.json"), "utf8"))).toEqual({
      client_id: clientId,
      client_secret: secret,
    });

    // SIGTERM to npm start reaches wrangler: both exit and the port is free again.
    child.kill("SIGTERM");
    expect(await exited).not.toBeNull();
    expect(await portIsFree(port)).toBe(true);

    // The demo user and client are in the state the server used.
    let listed = "";
    const code = await main(["user", "list", "--json", "--persist-to", stateDir], { out: (t) => (listed += t), err: () => {} });
    expect(code).toBe(0);
    expect(JSON.parse(listed)).toEqual([expect.objectContaining({ username: "demo", is_active: true })]);
  } catch (error) {
    throw new Error(`${(error as Error).message}\n--- npm start output ---\n${output}`, { cause: error });
  } finally {
    // Whatever is left of the process group this test started (nothing, when all went well).
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // already gone
    }
    await exited;
  }
});


function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}
